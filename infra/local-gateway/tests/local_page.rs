//! The local desk page (`/_local/`, issue 24) in a real headless browser:
//! Debian's chromium, driven through chromedriver's WebDriver API (plain
//! HTTP, no extra crate). A text sent through the API appears in the page's
//! console outbox; the page's desk search finds it and shows its timeline.
//! scripts/test installs chromium and chromium-driver (CHROMEDRIVER names
//! another driver). With VERSUS_SCREENSHOT=<file.png> the test also saves
//! what the page looks like (the README's picture).

mod common;

use common::Stack;
use serde_json::{json, Value};
use std::time::Duration;

struct Browser {
    http: reqwest::Client,
    driver: std::process::Child,
    session: String,
    base: String,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = std::process::Command::new(&program)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{program} ({e}): scripts/test installs Debian's chromium-driver")
            });
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        common::eventually_within("chromedriver answers", 30, || async {
            http.get(format!("{base}/status")).send().await.is_ok()
        })
        .await;
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,800"]
                }
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_string();
        Browser {
            http,
            driver,
            session,
            base,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method.clone(), url);
        if method != reqwest::Method::GET {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn run(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    async fn page_text(&self) -> String {
        self.run("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn until_shown(&self, what: &str, wanted: &str) {
        for _ in 0..100 {
            if self.page_text().await.contains(wanted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "{what}: {wanted:?} never appeared in:\n{}",
            self.page_text().await
        );
    }

    async fn until_true(&self, what: &str, script: &str) {
        for _ in 0..100 {
            if self.run(script).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "{what} never held; the page shows:\n{}",
            self.page_text().await
        );
    }

    async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let png = self
            .command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let png = png
            .as_str()
            .unwrap_or_else(|| panic!("no screenshot: {png}"));
        base64::engine::general_purpose::STANDARD
            .decode(png)
            .unwrap()
    }

    async fn close(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test]
async fn a_text_sent_through_the_api_appears_on_the_local_page() {
    let stack = Stack::start().await;
    let browser = Browser::start().await;
    browser
        .open(&format!("{}/_local/", stack.running.http_url))
        .await;
    browser.until_shown("the page", "Console outbox").await;

    // A verification code, requested through the API.
    let number = "+256772123480";
    stack.create_profile("pager", "pager").await;
    let (status, _) = stack
        .call(
            "POST",
            "/v1/me/phone/verification",
            Some("pager"),
            Some(&json!({"phone_number": number}).to_string()),
        )
        .await;
    assert_eq!(status, 202);
    browser.until_shown("the console outbox", number).await;
    browser
        .until_shown("the console outbox", "Your Versus code is")
        .await;

    // The desk: searched by the number as a person types it.
    browser
        .run(
            "const form = document.getElementById('search');
             form.number.value = '+256 772 123 480';
             form.requestSubmit();",
        )
        .await;
    // The search's own row (the outbox shows the type too), then its link.
    browser
        .until_true(
            "the found text, sent",
            "const row = document.querySelector('#results tr');
             return !!row && row.innerText.includes('phone_verification')
                 && row.innerText.includes('sent');",
        )
        .await;
    browser
        .run("document.querySelector('#results a').click()")
        .await;
    browser.until_shown("the timeline", "Timeline of").await;
    let shown = browser.page_text().await;
    for step in ["created", "claimed", "sent"] {
        assert!(shown.contains(step), "{step} missing from:\n{shown}");
    }
    assert!(shown.contains("Your Versus code is ******"), "{shown}");
    if let Ok(path) = std::env::var("VERSUS_SCREENSHOT") {
        std::fs::write(path, browser.screenshot().await).unwrap();
    }
    browser.close().await;
}
