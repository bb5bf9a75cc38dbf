//! The observer over HTTP, as a client sees it: the token, the Host check,
//! the JSON API, the event stream's increasing sequence, the exit action
//! (refused unless enabled; with it, a restart), and `/metrics`.

mod support;

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Bytes;
use treeline_observer::{Observer, ObserverError};

use support::{demo, get, request, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_then_kept_in_a_cookie() {
    let (system, _, _) = demo().await;
    let observer = Observer::builder().token("s3cret").serve(&system).await.unwrap();
    let addr = observer.local_addr();
    assert_eq!(observer.url(), format!("http://{addr}/?token=s3cret"));

    assert_eq!(get(addr, "/").await.status, 401);
    assert_eq!(get(addr, "/api/v1/snapshot").await.status, 401);
    assert_eq!(get(addr, "/?token=wrong").await.status, 401);

    let page = get(addr, "/?token=s3cret").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("treeline"), "{}", page.body);
    let cookie = page.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let host = addr.to_string();
    let with_cookie = request(addr, "GET", &host, "/api/v1/snapshot", &[("cookie", &cookie)]).await;
    assert_eq!(with_cookie.status, 200);
    let bearer = request(addr, "GET", &host, "/api/v1/snapshot", &[("authorization", "Bearer s3cret")]).await;
    assert_eq!(bearer.status, 200);
    assert!(page.headers["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    observer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_is_refused_and_remote_binds_need_a_token() {
    let (system, _, _) = demo().await;
    let observer = Observer::builder().serve(&system).await.unwrap();
    let addr = observer.local_addr();
    assert_eq!(request(addr, "GET", "evil.example:8765", "/", &[]).await.status, 403);
    assert_eq!(request(addr, "GET", "127.0.0.1.evil.example", "/api/v1/snapshot", &[]).await.status, 403);
    assert_eq!(request(addr, "GET", &format!("localhost:{}", addr.port()), "/", &[]).await.status, 200);
    assert_eq!(get(addr, "/").await.status, 200);

    let remote = "0.0.0.0:0".parse().unwrap();
    assert!(matches!(Observer::builder().bind(remote).serve(&system).await, Err(ObserverError::RemoteNotAllowed(_))));
    assert!(matches!(
        Observer::builder().bind(remote).allow_remote().serve(&system).await,
        Err(ObserverError::RemoteWithoutToken)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_the_tree_and_the_stream_counts_up() {
    let (system, billing, _) = demo().await;
    let observer = Observer::builder().interval(Duration::from_millis(100)).serve(&system).await.unwrap();
    let addr = observer.local_addr();

    let snapshot: serde_json::Value = serde_json::from_str(&get(addr, "/api/v1/snapshot").await.body).unwrap();
    assert_eq!(snapshot["version"], 1);
    let actors = snapshot["actors"].as_array().unwrap();
    let billing_json = actors.iter().find(|actor| actor["kind"] == "billing").expect("billing is listed");
    assert_eq!(billing_json["mailbox"]["capacity"], 10);
    assert_eq!(billing_json["child"]["restart"], "permanent");
    let shop = actors.iter().find(|actor| actor["kind"] == "shop").unwrap();
    assert_eq!(shop["supervisor"]["children"].as_array().unwrap().len(), 2);
    assert!(actors.iter().any(|actor| actor["kind"] == "treeline-observer"), "the dead-letter log is an actor too");

    let id = billing.id().unwrap().as_u64();
    let detail: serde_json::Value =
        serde_json::from_str(&get(addr, &format!("/api/v1/actors/{id}")).await.body).unwrap();
    assert_eq!(detail["kind"], "billing");
    assert_eq!(get(addr, "/api/v1/actors/999999").await.status, 404);
    assert_eq!(get(addr, "/api/v1/actors/nope").await.status, 400);

    // The event stream: snapshots with increasing ids.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    let response = client.get(format!("http://{addr}/api/v1/events").parse().unwrap()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut text = String::new();
    let ids = within("three snapshots", async {
        loop {
            let frame = body.frame().await.expect("the stream stays open").unwrap();
            if let Some(data) = frame.data_ref() {
                text.push_str(&String::from_utf8_lossy(data));
            }
            let ids: Vec<u64> = text.lines().filter_map(|line| line.strip_prefix("id: ")?.parse().ok()).collect();
            if ids.len() >= 3 {
                return ids;
            }
        }
    })
    .await;
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    assert!(text.contains("event: snapshot"), "{text}");
    drop(body);
    observer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exit_action_is_refused_unless_enabled_and_then_a_restart_follows() {
    let (system, billing, _) = demo().await;
    let first = billing.id().unwrap();
    let read_only = Observer::builder().serve(&system).await.unwrap();
    let path = format!("/api/v1/actors/{}/exit", first.as_u64());
    let addr = read_only.local_addr();
    assert_eq!(request(addr, "POST", &addr.to_string(), &path, &[]).await.status, 403);
    assert_eq!(billing.id(), Some(first));

    let observer = Observer::builder().allow_destructive_actions(true).serve(&system).await.unwrap();
    let addr = observer.local_addr();
    let foreign = [("origin", "http://evil.example")];
    assert_eq!(request(addr, "POST", &addr.to_string(), &path, &foreign).await.status, 403, "cross-origin");
    let origin = format!("http://{addr}");
    let answer = request(addr, "POST", &addr.to_string(), &path, &[("origin", &origin)]).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    within("the restart", billing.restarted(first)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_in_prometheus_text() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder in this binary");
    let (system, billing, gate) = demo().await;
    billing.cast(support::Block).await.unwrap();
    for _ in 0..3 {
        billing.cast(support::Charge).await.unwrap();
    }
    let observer = Observer::builder().prometheus(handle).serve(&system).await.unwrap();
    let answer = get(observer.local_addr(), "/metrics").await;
    assert_eq!(answer.status, 200);
    assert!(answer.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    // (The recorder is the process's: the other tests of this binary spawn
    // billings too, and the shop supervisor may still be answering the
    // snapshot's request, so neither a count nor a status is exact here;
    // tests/metrics.rs checks the values.)
    assert!(answer.body.contains(r#"treeline_actor_spawns_total{kind="billing"} "#), "{}", answer.body);
    assert!(answer.body.contains(r#"treeline_actors{kind="shop",status="#), "{}", answer.body);
    assert!(answer.body.contains("treeline_mailbox_depth_max{kind=\"billing\"}"), "{}", answer.body);
    gate.notify_waiters();
}
