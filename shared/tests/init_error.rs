//! A function that cannot start says why: the reason goes to the Lambda
//! Runtime API's init-error endpoint (what `cargo lambda invoke` and Lambda
//! show), instead of a process that just exits and an invoke that waits.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_failed_init_is_posted_to_the_runtime_api() {
    // A stand-in for the Runtime API: takes one request, answers 202.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    std::env::set_var(
        "AWS_LAMBDA_RUNTIME_API",
        listener.local_addr().unwrap().to_string(),
    );
    let received = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = socket.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some(head) = text.find("\r\n\r\n") {
                let length = text[..head]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= head + 4 + length {
                    break;
                }
            }
        }
        socket
            .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8(request).unwrap()
    });

    let outcome = versus::lambda::start(async {
        Err(versus::Error::Config(
            "environment variable USERS_TABLE is not set".into(),
        ))
    })
    .await;
    assert!(outcome.is_err(), "the process exits non-zero");
    let request = received.await.unwrap();
    assert!(
        request.starts_with("POST /2018-06-01/runtime/init/error "),
        "{request}"
    );
    assert!(request
        .to_ascii_lowercase()
        .contains("lambda-runtime-function-error-type: runtime.initerror"));
    let body: serde_json::Value =
        serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(body["errorType"], "Runtime.InitError");
    assert!(body["errorMessage"]
        .as_str()
        .unwrap()
        .contains("USERS_TABLE is not set"));
}
