use versus::lambda::{self, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    lambda::start(async { scheduled_jobs::function(&versus::Config::from_env()?).await }).await
}
