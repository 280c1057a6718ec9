use versus::lambda::{self, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    lambda::start(async { domain_events::function(&versus::Config::from_env()?).await }).await
}
