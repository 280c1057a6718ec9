"""The local variant of template.yaml that `sam local` runs, and its env-vars file.

Run with the SAM CLI's own Python (it reads the template as SAM does):
    .tools/sam/bin/python scripts/lib/sam_local.py OUT_DIR CODE_DIR HOST PREFIX \
        DYNAMODB_PORT MOTO_PORT WS_PORT SECRET

The variant differs from template.yaml only where this machine needs it:
- x86_64 (no arm64 standard library can be installed here), and each function's
  CodeUri is CODE_DIR/<function dir>, which holds the `bootstrap` cargo built;
  no BuildMethod, so no `sam build`;
- the local endpoint variables and the dev token secret are declared (empty)
  under Globals: SAM passes a function only the variables its template
  declares, and the env-vars file fills them.
The env-vars file points every function at scripts/dev's DynamoDB Local, moto
and gateway, reached from SAM's containers at HOST (the host's address on
Docker's bridge), and names what scripts/dev created (PREFIX + logical id).
"""

import json
import os
import sys

from samcli.yamlhelper import parse_yaml_file

LOCAL_VARIABLES = [
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_SNS",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "JWT_DEV_SECRET",
]


def local_template(template, code_dir):
    function_globals = template.setdefault("Globals", {}).setdefault("Function", {})
    function_globals["Architectures"] = ["x86_64"]
    variables = function_globals.setdefault("Environment", {}).setdefault("Variables", {})
    for name in LOCAL_VARIABLES:
        variables[name] = ""
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        resource.pop("Metadata", None)
        properties = resource["Properties"]
        properties["Architectures"] = ["x86_64"]
        function_dir = os.path.basename(properties["CodeUri"].rstrip("/"))
        properties["CodeUri"] = os.path.join(code_dir, function_dir)
    return template


def env_vars(host, prefix, dynamodb_port, moto_port, ws_port, secret):
    moto = f"http://{host}:{moto_port}"

    def queue(name):
        return f"{moto}/123456789012/{prefix}{name}"

    return {
        "Parameters": {
            "USERS_TABLE": prefix + "UsersTable",
            "BATTLES_TABLE": prefix + "BattlesTable",
            "SMS_TABLE": prefix + "SmsTable",
            "SMS_QUEUE_URL": queue("SmsQueue"),
            "INVITATION_TIMEOUTS_QUEUE_URL": queue("InvitationTimeoutsQueue"),
            "JOBS_QUEUE_URL": queue("JobsQueue"),
            "SMS_SECRETS_ARN": prefix + "SmsProviderSecrets",
            "WEBSOCKET_API_ENDPOINT": f"http://{host}:{ws_port}/prod",
            "WEB_BASE_URL": "http://localhost:8080",
            "JWT_DEV_SECRET": secret,
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://{host}:{dynamodb_port}",
            "AWS_ENDPOINT_URL_SQS": moto,
            "AWS_ENDPOINT_URL_SNS": moto,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto,
        }
    }


def main():
    out_dir, code_dir, host, prefix, dynamodb_port, moto_port, ws_port, secret = sys.argv[1:9]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    template = local_template(parse_yaml_file(os.path.join(root, "template.yaml")), code_dir)
    with open(os.path.join(out_dir, "template.json"), "w") as f:
        json.dump(template, f, indent=1)
    with open(os.path.join(out_dir, "env.json"), "w") as f:
        json.dump(env_vars(host, prefix, dynamodb_port, moto_port, ws_port, secret), f, indent=1)


if __name__ == "__main__":
    main()
