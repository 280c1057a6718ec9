use versus::lambda::{self, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    lambda::init_tracing();
    let config = versus::Config::from_env()?;
    lambda::run(sms_sender::function(&config).await?).await
}
