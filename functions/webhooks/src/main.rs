use versus::lambda::{self, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    lambda::init_tracing();
    let config = versus::Config::from_env()?;
    lambda::run(webhooks::function(&config).await?).await
}
