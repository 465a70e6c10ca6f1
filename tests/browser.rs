//! The status page. Login, sessions and CSRF are checked over plain HTTP; the walk an
//! operator takes is checked in a real Chromium through WebDriver (`--ignored`:
//! .ci/browser.sh installs chromium and chromium-driver and runs it).

#[allow(dead_code)] // the status page needs a part of the API suite's helpers
#[path = "integration/helpers.rs"]
mod helpers;
/// The helpers' PostgreSQL cluster (`KADEN_TEST_POSTGRES=1`).
#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use fantoccini::{ClientBuilder, Locator};
use helpers::{TOKEN, TestApp, spawn_app_with};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `primary` rotates 山田 and 鈴木 weekly; high alerts call whoever is on call.
const CONFIG: &str = "\
server:
  listen: 127.0.0.1:0
  api_tokens: [TOKEN]
storage:
  sqlite: kaden.db
users:
  - { id: yamada, name: 山田, phone: \"+819012345678\" }
  - { id: suzuki, name: 鈴木, phone: \"+819023456789\" }
schedules:
  - id: primary
    timezone: Asia/Tokyo
    rotation: { every: 1w, handoff: \"2026-11-02T10:00\", members: [yamada, suzuki] }
call_settings:
  - { id: infra, mode: round_robin, targets: [schedule:primary] }
routes:
  - { when: { severity: [high, disaster] }, call: infra }
";

fn web_alert() -> Value {
    json!({
        "source": "generic", "key": "web-01/HTTP", "kind": "problem", "severity": "high",
        "host": "web-01", "service": "HTTP",
        "summary": "HTTP CRITICAL - 503 Service Unavailable",
        "time": "2026-11-23T10:00:00+09:00"
    })
}

/// A browser-like client: no redirects followed, cookies handled by the test.
fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

/// `name=value` of the session cookie the response sets, with its attributes.
fn set_cookie(response: &reqwest::Response) -> Option<(String, String)> {
    let header = response.headers().get("set-cookie")?.to_str().unwrap();
    let (pair, attributes) = header.split_once(';').unwrap_or((header, ""));
    Some((pair.to_owned(), attributes.to_owned()))
}

async fn login(app: &TestApp, token: &str) -> reqwest::Response {
    browser_client()
        .post(app.url("/login"))
        .form(&[("name", "佐藤"), ("token", token)])
        .send()
        .await
        .unwrap()
}

async fn logged_in(app: &TestApp) -> String {
    let response = login(app, TOKEN).await;
    assert_eq!(response.status(), 303);
    set_cookie(&response).unwrap().0
}

async fn get_page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let response = browser_client()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn without_a_session_every_page_sends_to_the_login_form_and_shows_no_data() {
    let app = spawn_app_with(CONFIG).await;
    let id = app.post_alert(&web_alert()).await["incident_id"].clone();
    let client = browser_client();
    for path in ["/".to_owned(), format!("/incidents/{id}")] {
        for cookie in ["", "kaden_session=forged"] {
            let response = client
                .get(app.url(&path))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 303, "{path}");
            assert_eq!(location(&response), "/login");
            assert!(!response.text().await.unwrap().contains("web-01"));
        }
    }
    let response = client
        .post(app.url(&format!("/incidents/{id}/ack")))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn a_wrong_token_gets_the_form_again_and_no_cookie() {
    let app = spawn_app_with(CONFIG).await;
    let response = login(&app, "wrong-token").await;
    assert_eq!(response.status(), 401);
    assert!(set_cookie(&response).is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("トークンが違います。"), "{page}");
    assert!(page.contains("name=\"token\""));
    assert!(!page.contains("wrong-token"));

    let response = login(&app, TOKEN).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
    let (cookie, attributes) = set_cookie(&response).unwrap();
    assert!(cookie.starts_with("kaden_session="));
    assert!(!cookie.contains(TOKEN), "the session id is not the token");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(attribute), "{attributes}");
    }
    let (status, page) = get_page(&app, &cookie, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("佐藤"), "the page says who is logged in");
    assert!(!page.contains(TOKEN));
}

#[tokio::test]
async fn the_acknowledge_button_needs_the_sessions_csrf_token() {
    let app = spawn_app_with(CONFIG).await;
    for phone in ["+819012345678", "+819023456789"] {
        app.phone(phone, json!({ "behaviour": "no_answer" })).await;
    }
    let cookie = logged_in(&app).await;
    let id = app.post_alert(&web_alert()).await["incident_id"].clone();
    app.wait_for_incident(&id, "the call to be placed", |i| {
        !i["calls"][0]["call_sid"].is_null()
    })
    .await;
    let ack = |csrf: String| {
        browser_client()
            .post(app.url(&format!("/incidents/{id}/ack")))
            .header("cookie", cookie.clone())
            .form(&[("csrf", csrf)])
            .send()
    };
    assert_eq!(ack("forged".into()).await.unwrap().status(), 403);
    assert_eq!(app.incident(&id).await["escalation"], "escalating");

    let (_, page) = get_page(&app, &cookie, &format!("/incidents/{id}")).await;
    let response = ack(csrf_of(&page)).await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("/incidents/{id}?acked=true"));
    app.wait_for_incident(&id, "the escalation to stop", |i| {
        i["escalation"] == "quiet"
    })
    .await;
    let (_, page) = get_page(&app, &cookie, location(&response)).await;
    assert!(page.contains("認知しました。"), "{page}");
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let app = spawn_app_with(CONFIG).await;
    let cookie = logged_in(&app).await;
    let (_, page) = get_page(&app, &cookie, "/").await;
    let csrf = csrf_of(&page);
    let response = browser_client()
        .post(app.url("/logout"))
        .header("cookie", cookie.clone())
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/login");
    assert!(set_cookie(&response).unwrap().1.contains("Max-Age=0"));
    let (status, _) = get_page(&app, &cookie, "/").await;
    assert_eq!(status, 303, "the old cookie no longer opens the page");
}

#[tokio::test]
async fn without_api_tokens_the_page_is_open_like_the_api() {
    let app = spawn_app_with(&CONFIG.replace("  api_tokens: [TOKEN]\n", "")).await;
    let response = browser_client().get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // A session is still started, so the acknowledge button keeps its CSRF token.
    assert!(set_cookie(&response).is_some());
    let login = browser_client()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&login), "/");
}

/// A text as the template engine escapes it into HTML.
fn escaped(text: &Value) -> String {
    let mut html = String::new();
    for c in text.as_str().unwrap().chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#x27;"),
            '/' => html.push_str("&#x2f;"),
            c => html.push(c),
        }
    }
    html
}

#[tokio::test]
async fn the_page_lists_telephony_errors_with_their_meaning_and_fix() {
    let app = spawn_app_with(CONFIG).await;
    let cookie = logged_in(&app).await;
    let (_, page) = get_page(&app, &cookie, "/").await;
    assert!(page.contains("電話エラーはありません"), "{page}");

    // Twilio refuses both numbers: error 21211, stored by the call that hit it.
    for phone in ["+819012345678", "+819023456789"] {
        app.phone(phone, json!({ "behaviour": "invalid_number" }))
            .await;
    }
    let id = app.post_alert(&web_alert()).await["incident_id"].clone();
    let mut errors = Value::Null;
    for _ in 0..100 {
        errors = app.get("/api/v1/telephony/errors").await.1;
        if errors.as_array().is_some_and(|e| !e.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let error = &errors[0];
    assert_eq!(error["code"], 21211, "{errors:#}");
    let (_, page) = get_page(&app, &cookie, "/").await;
    assert!(!page.contains("電話エラーはありません"), "{page}");
    for shown in [
        "<td>21211</td>".to_owned(),
        escaped(&error["meaning"]),
        escaped(&error["fix"]),
        format!("<a href=\"/incidents/{id}\">{id}</a>"),
        escaped(&error["call_id"]),
        "Twilio API".to_owned(),
    ] {
        assert!(page.contains(&shown), "{shown} in {page}");
    }
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver on a free port; returns it with its URL once it listens.
async fn chromedriver() -> (Killed, String) {
    let port = free_port();
    let child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("chromedriver: apt-get install chromium-driver (see .ci/browser.sh)");
    let driver = Killed(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, format!("http://127.0.0.1:{port}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port} within 10 s");
}

/// Saves a screenshot of the whole page: the window is made as tall as the page first,
/// plus what the browser's own frame takes.
async fn screenshot(browser: &fantoccini::Client, name: &str) {
    let sizes = browser
        .execute(
            "return [document.documentElement.scrollHeight, \
                     window.outerHeight - window.innerHeight];",
            vec![],
        )
        .await
        .unwrap();
    let height: u32 = serde_json::from_value(sizes[0].clone()).unwrap();
    let frame: u32 = serde_json::from_value(sizes[1].clone()).unwrap();
    browser.set_window_size(1280, height + frame).await.unwrap();
    let png = browser.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// The text of an element, waiting for it: a click or a submit returns before the next
/// page has loaded, so the element may not be there yet.
async fn text(browser: &fantoccini::Client, css: &str) -> String {
    browser
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Debian's chromium and chromium-driver; .ci/browser.sh installs them"]
async fn an_operator_logs_in_and_follows_an_incident_in_chromium() {
    let app = spawn_app_with(CONFIG).await;
    let (_driver, driver_url) = chromedriver().await;
    let profile = tempfile::tempdir().unwrap();
    // No network here: without these Chromium waits on connections it will never get.
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let browser = ClientBuilder::rustls()
        .unwrap()
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&driver_url)
        .await
        .unwrap();

    browser.goto(&app.url("/")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/login");
    browser
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys("wrong-token")
        .await
        .unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text(&browser, "#login-error").await, "トークンが違います。");
    assert!(browser.get_all_cookies().await.unwrap().is_empty());

    let form = browser.form(Locator::Css("form")).await.unwrap();
    form.set_by_name("name", "佐藤").await.unwrap();
    form.set_by_name("token", TOKEN).await.unwrap();
    form.submit().await.unwrap();
    text(&browser, "#oncall").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/");
    let cookie = browser.get_named_cookie("kaden_session").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));

    let id = app.post_alert(&web_alert()).await["incident_id"].clone();
    let incident = app
        .wait_for_incident(&id, "the callee to press 9#", |i| {
            i["calls"][0]["keys"]
                .as_array()
                .is_some_and(|k| k.contains(&json!("9#")))
        })
        .await;
    let callee = incident["calls"][0]["user"].as_str().unwrap();
    let callee = if callee == "yamada" {
        "山田"
    } else {
        "鈴木"
    };
    let (_, oncall) = app.get("/api/v1/oncall?schedule=primary").await;
    let on_call = oncall[0]["now"]["name"].as_str().unwrap().to_owned();
    // The list shows the API's title once the API has one; until then, the call setting.
    let title = incident["title"].as_str().unwrap_or("infra").to_owned();

    browser.goto(&app.url("/")).await.unwrap();
    let page = text(&browser, "main").await;
    assert!(page.contains(&title), "{page}");
    assert!(text(&browser, "#oncall").await.contains(&on_call));
    assert!(text(&browser, "#calls").await.contains("9#"));
    screenshot(&browser, "index.png").await;

    browser
        .find(Locator::Css(&format!("a[href='/incidents/{id}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let timeline = text(&browser, "#timeline").await;
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        format!("/incidents/{id}")
    );
    for expected in ["web-01", "HTTP CRITICAL - 503", callee, "9#"] {
        assert!(timeline.contains(expected), "{expected} in {timeline}");
    }
    screenshot(&browser, "incident.png").await;
    browser.close().await.unwrap();
}
