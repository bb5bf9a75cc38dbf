//! The observer's page in a real browser: Debian's `chromium` driven over
//! WebDriver (`chromedriver`, from the `chromium-driver` package) from this
//! test with fantoccini. `.ci/test` installs both when they are missing; a
//! missing browser fails this test, it never passes as skipped.
//!
//! It opens the page, sees the tree's `billing` node, fills billing's
//! bounded mailbox and sees the node turn hot with the new depth, then
//! clicks the node and the page's exit button and sees the restart counted
//! on the node; and takes a screenshot, checked not to be blank (written to
//! `$CARGO_TARGET_TMPDIR/observer.png`, and to `$TREELINE_OBSERVER_SCREENSHOT`
//! when set: that is how `docs/observer.png` is made).

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use treeline::introspect::ActorStatus;
use treeline::SpawnOptions;
use treeline_observer::Observer;

use support::{demo, within, Billing, Block, Charge, Ping};

const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("chromedriver cannot start ({error}): install Debian's chromium and chromium-driver (.ci/test does)")
        });
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (.ci/test does)"
    );
    Driver { child, port }
}

async fn connect(driver: &Driver, profile: &std::path::Path) -> Client {
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1500,1100", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let capabilities = capabilities.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{}", driver.port);
    // chromedriver takes a moment to listen.
    within("a WebDriver session", async {
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => return client,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await
}

/// Evaluates `script` in the page until it returns `expected`.
async fn until_page(client: &Client, what: &str, script: &str, expected: serde_json::Value) {
    let mut last = serde_json::Value::Null;
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            last = client.execute(script, vec![]).await.unwrap_or(serde_json::Value::Null);
            if last == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{what}: the page showed {last} (wanted {expected})");
}

fn node(kind: &str, script: &str) -> String {
    format!("const n = document.querySelector(\"g.node[data-actor='{kind}']\"); return n ? {script} : null;")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_tree_a_filling_mailbox_and_a_restart() {
    let driver = start_driver();
    let (system, billing, gate) = demo().await;
    // A few more actors for the page to show: named sessions under a
    // dynamic supervisor.
    let sessions = system.start_dynamic(treeline::supervisor::DynamicSpec::<Billing>::new()).await.unwrap();
    for _ in 0..3 {
        sessions.start_child(gate.clone()).await.unwrap();
    }
    let named = SpawnOptions::new().name(treeline::Name::new("auditor")).kind("auditor");
    system.spawn_with::<Billing>(gate.clone(), named).await.unwrap();
    let observer = Observer::builder()
        .generate_token()
        .allow_destructive_actions(true)
        .interval(Duration::from_millis(200))
        .serve(&system)
        .await
        .unwrap();
    let profile = std::env::temp_dir().join(format!("treeline-observer-chromium-{}", std::process::id()));
    let client = connect(&driver, &profile).await;

    client.goto(&observer.url()).await.unwrap();
    within("the billing node", client.wait().for_element(Locator::Css("g.node[data-actor='billing']"))).await.unwrap();
    until_page(&client, "an empty mailbox", &node("billing", "n.dataset.mailbox"), "0".into()).await;

    // Billing blocks in a handler; nine casts wait behind it (capacity 10).
    billing.cast(Block).await.unwrap();
    // (Once it runs Block, what comes next waits in the mailbox rather than
    // in a batch it took along with Block.)
    let id = billing.id().unwrap();
    within("billing blocks", async {
        while !matches!(system.actor_info(id).await.map(|info| info.status), Some(ActorStatus::Handling(_))) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    for _ in 0..9 {
        billing.cast(Charge).await.unwrap();
    }
    until_page(&client, "the mailbox fills", &node("billing", "n.dataset.mailbox"), "9".into()).await;
    until_page(&client, "a hot node", &node("billing", "n.classList.contains('hot')"), true.into()).await;

    // Click the node, then the detail panel's exit button: the supervisor
    // restarts billing, and the node counts it.
    let first = billing.id().unwrap();
    // (The tree is redrawn at every snapshot: a node found just before a
    // redraw is stale by the click, so the click is retried.)
    click_node(&client, "billing").await;
    let exit = within("the exit button", client.wait().for_element(Locator::Css("#exit-actor"))).await.unwrap();
    exit.click().await.unwrap();
    within("the restart", billing.restarted(first)).await.call(Ping).await.unwrap();
    until_page(&client, "the restart counted", &node("billing", "n.dataset.restarts"), "1".into()).await;
    until_page(&client, "a fresh mailbox", &node("billing", "n.dataset.mailbox"), "0".into()).await;
    until_page(
        &client,
        "the dead letters listed",
        "return document.querySelectorAll('#dead li').length > 0",
        true.into(),
    )
    .await;

    // The new incarnation's details, for the screenshot.
    click_node(&client, "billing").await;
    until_page(
        &client,
        "the new billing's details",
        "return document.querySelector('#detail-body h3') !== null",
        true.into(),
    )
    .await;

    let png = client.screenshot().await.unwrap();
    let (width, height, distinct, ink) = look(&png);
    assert!(width >= 1000 && height >= 700, "screenshot {width}x{height}");
    assert!(distinct > 50, "the screenshot is nearly blank: {distinct} colours");
    assert!(ink > 0.03, "the screenshot is nearly blank: {:.1}% non-background", ink * 100.0);
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("observer.png"), &png).unwrap();
    if let Ok(path) = std::env::var("TREELINE_OBSERVER_SCREENSHOT") {
        std::fs::write(path, &png).unwrap();
    }

    client.close().await.unwrap();
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    gate.notify_waiters();
    observer.stop().await;
}

/// Clicks the tree node of `kind`. The tree is redrawn at every snapshot:
/// a node found just before a redraw is stale by the click, so the click is
/// retried.
async fn click_node(client: &Client, kind: &str) {
    let css = format!("g.node[data-actor='{kind}']");
    within("a click on the node", async {
        loop {
            let node = client.find(Locator::Css(&css)).await.unwrap();
            if node.click().await.is_ok() {
                return;
            }
        }
    })
    .await;
}

/// Width, height, distinct colours and the share of pixels that are not
/// the page's background, of a PNG.
fn look(png: &[u8]) -> (u32, u32, usize, f64) {
    let decoder = png::Decoder::new(png);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut counts: std::collections::HashMap<[u8; 3], usize> = std::collections::HashMap::new();
    for pixel in pixels.chunks(channels) {
        let rgb = [pixel[0], pixel[1], pixel[2]];
        colours.insert(rgb);
        *counts.entry(rgb).or_default() += 1;
    }
    let total = pixels.len() / channels;
    let background = counts.values().max().copied().unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let ink = (total - background) as f64 / total as f64;
    (info.width, info.height, colours.len(), ink)
}
