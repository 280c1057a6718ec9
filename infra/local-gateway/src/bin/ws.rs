//! `ws URL`: a small WebSocket client for the README tour. Each stdin line is
//! sent as a text message; every message received is printed on its own line.

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: ws 'ws://127.0.0.1:3001/prod?token=<JWT>'");
        std::process::exit(2);
    };
    let (socket, _) = match tokio_tungstenite::connect_async(url.as_str()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("connection refused: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("connected; type a JSON message per line, e.g. {{\"action\":\"ping\"}}");
    let (mut sink, mut stream) = socket.split();
    let printer = tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Text(text) = message {
                println!("{text}");
            }
        }
        eprintln!("connection closed");
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if !line.trim().is_empty() && sink.send(Message::Text(line.into())).await.is_err() {
            break;
        }
    }
    // stdin ended: give the last answers a moment, then close politely.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let _ = sink.close().await;
    let _ = printer.await;
}
