//! Remote hosts run in parallel, 20 at a time by default (README): measured
//! as the overlap of the commands' own start and end times on 22 hosts.

use serde_json::json;

use crate::sshd::Sshd;
use crate::support::{request, run_lib};

#[test]
fn twenty_two_hosts_run_twenty_at_a_time() {
    let sshd = Sshd::start();
    let hosts: Vec<String> = (1..=22).map(|i| format!("p{i}")).collect();
    // Aliases of the test sshd, as `web1` is.
    let config = std::fs::read_to_string(&sshd.config).unwrap();
    let web = config
        .split("Host ")
        .find(|b| b.starts_with("web1 "))
        .unwrap()
        .split_once('\n')
        .unwrap()
        .1
        .to_string();
    std::fs::write(
        &sshd.config,
        format!("{config}Host {}\n{web}", hosts.join(" ")),
    )
    .unwrap();
    let log = sshd.dir.path().join("times.log");
    // Each command holds until 20 have started (at most 60 s): were fewer
    // let run at once, the peak below would be that number; were more, more.
    let cmd = format!(
        "echo \"s $(date +%s%N)\" >> {log}; n=0; \
         while [ \"$(grep -c '^s' {log})\" -lt 20 ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; \
         echo \"e $(date +%s%N)\" >> {log}",
        log = log.display()
    );
    let mut params = json!({"cmd": cmd, "hosts": hosts.join(",")});
    params["ssh_config"] = json!(sshd.config.to_str().unwrap());
    let (outcome, _) = run_lib(&request("remote-shell-cmd", params));
    for h in &hosts {
        assert_eq!(
            outcome.result[h]["succeeded"], true,
            "{h}: {}",
            outcome.result[h]
        );
    }
    let mut events: Vec<(u128, i32)> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let (kind, t) = l.split_once(' ').unwrap();
            (t.parse().unwrap(), if kind == "s" { 1 } else { -1 })
        })
        .collect();
    assert_eq!(events.len(), 44);
    // Ends sort before starts at the same instant: touching is not overlap.
    events.sort();
    let (mut now, mut peak) = (0, 0);
    for (_, d) in events {
        now += d;
        peak = peak.max(now);
    }
    assert_eq!(peak, 20, "hosts running at once");
}
