use versus::lambda::{self, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    lambda::start(async { admin_api::function(&versus::Config::from_env()?).await }).await
}
