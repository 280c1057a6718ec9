use versus::lambda::{self, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    lambda::start(async { ws_matchmaking::function(&versus::Config::from_env()?).await }).await
}
