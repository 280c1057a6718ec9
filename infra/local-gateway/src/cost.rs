//! What 1,000 matched battles cost on AWS (`scripts/bench`): the capacity
//! units the heat meter measured, the functions' measured durations, and the
//! messages and requests each step makes, priced by the table below.

/// The day the prices below were read (AWS list prices, us-east-1, on-demand,
/// past any free tier); check AWS's pricing pages before budgeting on them.
pub const PRICES_AS_OF: &str = "2026-12-07";

/// US dollars per unit.
pub struct Prices {
    pub dynamodb_write_unit: f64,
    pub dynamodb_read_unit: f64,
    pub lambda_arm_gb_second: f64,
    pub lambda_request: f64,
    pub http_api_request: f64,
    pub websocket_message: f64,
    pub websocket_connection_minute: f64,
    pub sqs_request: f64,
}

pub const PRICES: Prices = Prices {
    dynamodb_write_unit: 0.625 / 1e6,
    dynamodb_read_unit: 0.125 / 1e6,
    lambda_arm_gb_second: 0.000_013_333_4,
    lambda_request: 0.20 / 1e6,
    http_api_request: 1.00 / 1e6,
    websocket_message: 1.00 / 1e6,
    websocket_connection_minute: 0.25 / 1e6,
    sqs_request: 0.40 / 1e6,
};

/// One measured step of a battle: its capacity units and how long the
/// function that runs it took (the bench's mean, against DynamoDB Local:
/// slower than DynamoDB, so the Lambda line errs high).
#[derive(Clone, Copy, Debug, Default)]
pub struct Step {
    pub read_units: f64,
    pub write_units: f64,
    pub millis: f64,
}

/// What one matched battle is made of.
pub struct Battle {
    pub find: Step,
    pub accept: Step,
    pub result: Step,
    /// Battle points: one award per player (F-PT-9), in the result's call.
    pub award: Step,
    /// One text through the pipeline (enqueued, then sent).
    pub text: Step,
    /// Texts per battle (battle_result to a player who is not connected).
    pub texts: f64,
    /// Minutes each player is connected over the battle.
    pub connected_minutes: f64,
    /// Memory of every function (template Globals), GB.
    pub memory_gb: f64,
}

/// A line of the bill: what, how many per 1,000 battles, dollars.
pub struct Line {
    pub what: &'static str,
    pub quantity: f64,
    pub dollars: f64,
}

/// The invitation timer's invocation (an SQS delay message that finds the
/// invitation answered): one read, billed at about this.
const TIMER_MILLIS: f64 = 10.0;

impl Battle {
    /// The bill of 1,000 battles, SMS provider charges apart.
    pub fn bill(&self, p: &Prices) -> Vec<Line> {
        let n = 1000.0;
        let reads = self.find.read_units
            + self.accept.read_units
            + self.result.read_units
            + 2.0 * self.award.read_units
            + self.texts * self.text.read_units;
        let writes = self.find.write_units
            + self.accept.write_units
            + self.result.write_units
            + 2.0 * self.award.write_units
            + self.texts * self.text.write_units;
        // find, the timer, accept, result; a sender invocation per 10 texts.
        let invocations = 4.0 + self.texts / 10.0;
        let millis = self.find.millis
            + TIMER_MILLIS
            + self.accept.millis
            + self.result.millis
            + 2.0 * self.award.millis
            + self.texts * self.text.millis;
        let gb_seconds = millis / 1000.0 * self.memory_gb;
        // find: 1 in, 2 out; accept: 1 in, 2 out; result: 2 out.
        let messages = 8.0;
        // The timer: send, receive, delete; a text: send, and its share
        // of a batch's receive and delete.
        let sqs = 3.0 + self.texts * 1.2;
        let line = |what, quantity: f64, unit_price: f64| Line {
            what,
            quantity,
            dollars: quantity * unit_price,
        };
        vec![
            line(
                "DynamoDB read units (on demand)",
                reads * n,
                p.dynamodb_read_unit,
            ),
            line(
                "DynamoDB write units (on demand)",
                writes * n,
                p.dynamodb_write_unit,
            ),
            line("Lambda requests", invocations * n, p.lambda_request),
            line(
                "Lambda GB-seconds (arm64)",
                gb_seconds * n,
                p.lambda_arm_gb_second,
            ),
            line(
                "API Gateway HTTP requests (the result)",
                n,
                p.http_api_request,
            ),
            line(
                "API Gateway WebSocket messages",
                messages * n,
                p.websocket_message,
            ),
            line(
                "API Gateway WebSocket connection minutes",
                2.0 * self.connected_minutes * n,
                p.websocket_connection_minute,
            ),
            line("SQS requests", sqs * n, p.sqs_request),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_battle_bill_adds_up() {
        let step = Step {
            read_units: 1.0,
            write_units: 2.0,
            millis: 100.0,
        };
        let battle = Battle {
            find: step,
            accept: step,
            result: step,
            award: step,
            text: step,
            texts: 1.0,
            connected_minutes: 10.0,
            memory_gb: 0.25,
        };
        let bill = battle.bill(&PRICES);
        // 6 steps of 1 read unit a battle, 12 write units.
        assert_eq!(bill[0].quantity, 6_000.0);
        assert_eq!(bill[1].quantity, 12_000.0);
        assert!((bill[1].dollars - 12_000.0 * 0.625 / 1e6).abs() < 1e-12);
        // 610 ms at 0.25 GB a battle.
        assert!((bill[3].quantity - 152.5).abs() < 1e-9);
        assert_eq!(bill[6].quantity, 20_000.0);
    }
}
