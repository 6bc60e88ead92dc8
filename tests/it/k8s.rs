//! The Kubernetes sharded load Job (deploy/k8s/loadtest-job.yaml), run as written: its
//! container's command and environment, for two completion indices, against a local receiver;
//! then the two pods' logs (as `kubectl logs --prefix` prints them) merged by `report`.
//!
//! What a cluster would provide is provided here: the ConfigMap's scenario at its mount path (a
//! temp folder), the Secret's value, the completion index; the target points at a local
//! receiver, and the scenario's 5 minutes are shortened with INBOXKIT_MOCK_DURATION_FACTOR.

use std::collections::HashMap;
use std::path::PathBuf;

use inboxkit_mock::contract::{Secret, SignatureScheme, Signer};
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use serde::Deserialize;
use serde_json::Value;

use crate::support::run_cli_env;

fn manifest() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s/loadtest-job.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap())
        .collect()
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in the manifest"))
}

#[tokio::test]
async fn the_job_runs_as_written_for_two_indices_and_its_logs_merge() {
    let documents = manifest();
    let job = of_kind(&documents, "Job");
    let config_map = of_kind(&documents, "ConfigMap");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(pod["securityContext"]["fsGroup"], 65532);
    assert!(
        job["spec"].get("volumes").is_none()
            && pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v.get("persistentVolumeClaim").is_none()),
        "no shared volume is needed"
    );
    let container = &pod["containers"][0];
    let command: Vec<String> = container["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        command[0], "inboxkit-mock",
        "no shell: the image is distroless"
    );

    // The ConfigMap's scenario, at the container's mount path.
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    let dir = std::env::temp_dir().join(format!("inboxkit-mock-k8s-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in config_map["data"].as_object().unwrap() {
        std::fs::write(dir.join(name), content.as_str().unwrap()).unwrap();
    }
    let args: Vec<String> = command[1..]
        .iter()
        .map(|a| match a.strip_prefix(mount) {
            Some(rest) if rest.starts_with('/') => format!("{}{rest}", dir.display()),
            _ => a.clone(),
        })
        .collect();

    let secret = "whsec_from_the_cluster_secret";
    let receiver = RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(Signer::new(SignatureScheme::HmacBody, Secret::new(secret))),
        capacity: Some(100_000),
        ..ReceiverConfig::default()
    })
    .unwrap();
    let mut log = String::new();
    for index in ["0", "1"] {
        let mut env: HashMap<String, String> = HashMap::new();
        for var in container["env"].as_array().unwrap() {
            let name = var["name"].as_str().unwrap().to_owned();
            let value = match var["value"].as_str() {
                Some(_) if name == "INBOXKIT_MOCK_TARGET" => receiver.webhook_url().to_string(),
                Some(value) => value.to_owned(),
                None => {
                    assert!(var["valueFrom"]["secretKeyRef"].is_object(), "{var}");
                    secret.to_owned()
                }
            };
            env.insert(name, value);
        }
        env.insert("JOB_COMPLETION_INDEX".into(), index.into());
        env.insert("INBOXKIT_MOCK_DURATION_FACTOR".into(), "0.001".into());
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = run_cli_env(&argv, &env, b"").await;
        assert!(
            code == 0 || code == 99,
            "shard {index}: {code}\n{stdout}{stderr}"
        );
        assert!(
            stdout.contains("----- inboxkit-mock report (JSON) -----"),
            "{stdout}"
        );
        for line in stdout.lines() {
            log.push_str(&format!(
                "[pod/inboxkit-mock-load-{index}-x7k2p/shard] {line}\n"
            ));
        }
    }
    let logs = dir.join("shards.log");
    std::fs::write(&logs, &log).unwrap();
    let merged = dir.join("merged.json");
    let (code, stdout, stderr) = crate::support::run_cli(
        &[
            "report",
            logs.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
        b"",
    )
    .await;
    assert!(code == 0 || code == 99, "{code}\n{stdout}{stderr}");
    let report: Value = serde_json::from_slice(&std::fs::read(&merged).unwrap()).unwrap();
    assert_eq!(report["shards"], serde_json::json!(["1/4", "2/4"]));
    // 10,000/s for 5 min x 0.001 = 0.3 s: a quarter of 3,000 events per shard.
    assert_eq!(report["stats"]["events"], 1500, "{stdout}");
    assert_eq!(report["memory"].as_object().map(|m| m.len()), Some(2));
    let received = receiver.store().all();
    assert_eq!(received.len(), 1500);
    assert!(received.iter().all(|r| r.signature_valid == Some(true)));
    receiver.stop().await;
}
