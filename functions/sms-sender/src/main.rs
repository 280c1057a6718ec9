use versus::lambda::{self, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    lambda::start(async { sms_sender::function(&versus::Config::from_env()?).await }).await
}
