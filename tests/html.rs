//! `zksim render --html` and `--mermaid`: the exact diagram of a small trace, the page's bytes
//! and tree data, and the page itself loaded in a real headless browser (Debian's `chromium`).
//!
//! The browser tests skip with a message when `chromium` is missing, unless
//! `ZKSIM_REQUIRE_CHROMIUM=1` is set (CI sets it, after `.ci/install-chromium`): then they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zksim::html;
use zksim_model::server::Change;
use zksim_sim::event::Event;
use zksim_sim::recipes;
use zksim_sim::trace::{self, Trace};

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The start of an election run (steps 0 to 11) with a made-up violation at step 8.
fn small() -> Trace {
    trace::parse(&fixture("tests/fixtures/html/election-start.jsonl")).unwrap()
}

/// The recorded zombie-master counterexample of the `no-fencing` mutant.
fn zombie() -> Trace {
    trace::parse(&std::fs::read_to_string(zombie_path()).unwrap()).unwrap()
}

/// The file of [`zombie`].
fn zombie_path() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("no-fencing.") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    files
        .first()
        .expect("a no-fencing regression trace")
        .clone()
}

/// The JSON the page embeds.
fn page_data(page: &str) -> serde_json::Value {
    let start = page
        .find("<script id=\"trace-data\" type=\"application/json\">")
        .expect("data element");
    let rest = &page[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</script>").unwrap();
    serde_json::from_str(&rest[open..close]).expect("the embedded data is JSON")
}

#[test]
fn mermaid_of_a_small_trace_is_exactly_this_sequence_diagram() {
    // Goal: participants, requests, replies, notes and the violation come out as written here.
    let expected = r#"sequenceDiagram
    participant c1
    participant c2
    participant c3
    participant zk
    Note over zk: 0x1: session 0x100000000000000 created
    Note over c1: session 0x100000000000000
    c1->>zk: 1: create -e /master "c1"
    Note over zk: 0x2: session 0x100000000000001 created
    Note over c2: session 0x100000000000001
    c2->>zk: 1: create -e /master "c2"
    Note over zk: 0x3: session 0x100000000000002 created
    Note over c3: session 0x100000000000002
    c3->>zk: 1: create -e /master "c3"
    Note over zk: 0x4: created /master "c1" (ephemeral of 0x100000000000000)
    zk-->>c1: 1: /master
    zk-->>c3: 1: NodeExists
    zk-->>c2: 1: NodeExists
    c3->>zk: 2: stat -w /master
    c2->>zk: 2: stat -w /master
    Note over c1,zk: VIOLATED after step 8: a property made up for the test
    zk-->>c3: 2: ok (version 0)
    Note over c2: request xid 2 lost
    Note over c2: DISCONNECTED
    Note over c2: 2: ConnectionLoss
    c2->>zk: 3: stat -w /master
    Note over c2: state Disconnected
"#;
    assert_eq!(html::mermaid::mermaid(&small()), expected);
}

#[test]
fn mermaid_escapes_semicolons_and_hashes_in_messages() {
    // Goal: a multi's `;` separators cannot end a Mermaid statement early.
    let text = html::mermaid::mermaid(&zombie());
    let multi = text
        .lines()
        .find(|l| l.contains("multi ["))
        .expect("the zombie trace has a multi");
    assert!(multi.contains("#59;"), "{multi}");
    let bare = multi.replace("#59;", "").replace("#35;", "");
    assert!(!bare.contains(';') && !bare.contains('#'), "{multi}");
}

#[test]
fn the_same_trace_gives_the_same_self_contained_page() {
    // Goal: the page is deterministic and fetches nothing from the network.
    let t = zombie();
    let a = html::page(&t);
    assert_eq!(a, html::page(&t));
    for banned in [
        "<script src",
        "<link",
        "@import",
        "url(http",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(!a.contains(banned), "the page contains {banned:?}");
    }
    let data = page_data(&a);
    assert_eq!(data["lanes"].as_array().unwrap().len(), 7);
    assert_eq!(data["steps"].as_array().unwrap().len(), t.steps.len());
    let v = &data["violations"][0];
    assert_eq!(
        v[1].as_u64(),
        Some(t.end.as_ref().unwrap().violations[0].step)
    );
}

#[test]
fn the_page_shades_each_session_owning_master_on_its_process_lane() {
    // Goal: in the zombie trace, m1 owns /master first and m2 after m1's session expires.
    let data = page_data(&html::page(&zombie()));
    let masters: Vec<u64> = data["spans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s[3] == "master")
        .map(|s| s[2].as_u64().unwrap())
        .collect();
    assert!(masters.starts_with(&[0, 1]), "{masters:?}");
}

#[test]
fn the_tree_rebuilt_from_snapshots_and_deltas_is_the_model_tree_at_every_step() {
    // Goal: what the page reconstructs (snapshot, then the steps' deltas) is the replayed tree.
    let t = zombie();
    let data = page_data(&html::page(&t));
    let tree = &data["tree"];
    assert!(tree["error"].is_null(), "{}", tree["error"]);
    let every = tree["every"].as_u64().unwrap() as usize;
    let recipe = recipes::find(&t.header.recipe).unwrap();
    let (mut world, _) = recipe.world(&t.header.options, t.header.seed);
    let mut rebuilt = std::collections::BTreeMap::<String, serde_json::Value>::new();
    for (i, s) in t.steps.iter().enumerate() {
        if i > 0 {
            world.step(s.action.as_ref().unwrap()).unwrap();
        }
        if i % every == 0 {
            rebuilt = tree["snaps"][i / every]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| (n[0].as_str().unwrap().to_string(), n.clone()))
                .collect();
        } else {
            for d in tree["deltas"][i].as_array().unwrap() {
                let path = d[0].as_str().unwrap().to_string();
                if d.as_array().unwrap().len() == 1 {
                    rebuilt.remove(&path);
                } else {
                    rebuilt.insert(path, d.clone());
                }
            }
        }
        let model: Vec<(String, String, i64, i64)> = world
            .server()
            .tree()
            .iter()
            .map(|(p, n)| {
                let st = n.stat();
                (
                    p.to_string(),
                    n.data.display(),
                    i64::from(st.version),
                    i64::from(st.num_children),
                )
            })
            .collect();
        let page: Vec<(String, String, i64, i64)> = rebuilt
            .values()
            .map(|n| {
                (
                    n[0].as_str().unwrap().to_string(),
                    n[1].as_str().unwrap().to_string(),
                    n[2].as_i64().unwrap(),
                    n[5].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(page, model, "the tree after step {i}");
    }
}

#[test]
fn a_cluster_traces_task_menu_has_one_entry_per_task_covering_its_submission_and_its_life() {
    // Goal: the submission (`create -s /tasks/task-<token>-`) and the task node the server
    // creates from it are one menu entry, not two, and that entry's rows run from the
    // submission to the task's status.
    let t = zombie();
    let data = page_data(&html::page(&t));
    let tasks: Vec<String> = data["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    // Each task node's data is its client's token: the tasks the server created.
    let mut created = std::collections::BTreeSet::new();
    for s in &t.steps {
        for e in &s.events {
            if let Event::Changed {
                change: Change::Created { path, data, .. },
            } = e
            {
                if path.starts_with("/tasks/task-") {
                    created.insert(data.display().trim_matches('"').to_string());
                }
            }
        }
    }
    assert!(
        created.len() >= 2,
        "the zombie trace creates tasks: {created:?}"
    );
    let listed: std::collections::BTreeSet<String> = tasks.iter().cloned().collect();
    assert_eq!(listed.len(), tasks.len(), "a task listed twice: {tasks:?}");
    assert_eq!(listed, created, "the menu is not one entry per task");
    let rows = data["rows"].as_array().unwrap();
    for (i, token) in tasks.iter().enumerate() {
        let labels: Vec<&str> = rows
            .iter()
            .filter(|r| r[4].as_i64() == Some(i as i64))
            .map(|r| r[3].as_str().unwrap())
            .collect();
        let submission = format!("create -s /tasks/task-{token}- ");
        let node = format!("created /tasks/task-{token}-");
        assert!(
            labels.iter().any(|l| l.contains(&submission)),
            "task {token}: no submission among {labels:#?}"
        );
        assert!(
            labels.iter().any(|l| l.contains(&node)),
            "task {token}: no created task node among {labels:#?}"
        );
    }
    // A reply naming no task (`<- [NoNode, ...]` to a submission) is its request's task's.
    let mut inherited = 0;
    for m in data["msgs"].as_array().unwrap() {
        let (from, to) = (
            &rows[m[0].as_u64().unwrap() as usize],
            &rows[m[1].as_u64().unwrap() as usize],
        );
        let label = to[3].as_str().unwrap();
        if m[2] == "rep" && from[4].as_i64() >= Some(0) && !label.contains("task-") {
            assert_eq!(
                to[4], from[4],
                "the reply {label:?} is not its request's task's"
            );
            inherited += 1;
        }
    }
    assert!(inherited > 0, "no reply without a task name to check");
}

/// The headless browser, if there is one; panics if there is none but there must be.
fn chromium(test: &str) -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        let found = Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            return Some(PathBuf::from(name));
        }
    }
    let why = format!(
        "{test}: chromium is not available; install it with `.ci/install-chromium` \
         (Debian: `apt-get install -y chromium`)"
    );
    if std::env::var("ZKSIM_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
        panic!("{why} (ZKSIM_REQUIRE_CHROMIUM=1)");
    }
    eprintln!("SKIPPED {why}");
    None
}

fn temp_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs headless chromium on a page with a fresh profile in a 1400 × 900 window; returns its
/// standard output.
fn headless(browser: &Path, dir: &Path, url: &str, extra: &[&str]) -> String {
    headless_sized(browser, dir, url, (1400, 900), extra)
}

/// [`headless`] in a window of `(width, height)` pixels.
fn headless_sized(
    browser: &Path,
    dir: &Path,
    url: &str,
    (width, height): (u32, u32),
    extra: &[&str],
) -> String {
    let profile = dir.join(format!("profile-{}-{width}", extra.len()));
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed on {url}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn attr<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let i = dom.find(&key)? + key.len();
    Some(&dom[i..i + dom[i..].find('"')?])
}

#[test]
fn the_zombie_master_page_loads_in_headless_chromium_with_its_lanes_steps_and_tree() {
    // Goal: the page's script runs without error, draws the lanes and rows, marks the
    // violation, and shows the tree of the step named in the URL.
    let Some(browser) = chromium("html page in chromium") else {
        return;
    };
    let t = zombie();
    let dir = temp_dir("html-chromium");
    let page = dir.join("zombie.html");
    std::fs::write(&page, html::page(&t)).unwrap();
    let url = format!("file://{}", page.display());
    let dom = headless(&browser, &dir, &url, &["--dump-dom"]);
    assert_eq!(attr(&dom, "data-ready"), Some("1"), "not ready:\n{dom}");
    assert_eq!(attr(&dom, "data-errors"), Some("0"), "errors:\n{dom}");
    assert_eq!(attr(&dom, "data-lanes"), Some("7"));
    assert_eq!(
        attr(&dom, "data-steps"),
        Some(t.steps_taken().to_string().as_str())
    );
    for lane in ["m1", "m2", "w1", "w2", "c1", "c2", "zk"] {
        assert!(
            dom.contains(&format!("data-lane=\"{lane}\"")),
            "no lane {lane}"
        );
    }
    let drawn: usize = attr(&dom, "data-drawn").unwrap().parse().unwrap();
    assert!(drawn > 10, "only {drawn} rows drawn");
    // Opened on a failing trace, the page starts at the violation.
    let violation = t.end.as_ref().unwrap().violations[0].step.to_string();
    assert_eq!(attr(&dom, "data-selected"), Some(violation.as_str()));
    assert!(dom.contains("class=\"viol\""), "the violation is not drawn");
    assert!(
        dom.contains("data-path=\"/master\""),
        "no /master in the tree"
    );

    // A step named in the URL is selected, and its tree shows up.
    let dom = headless(
        &browser,
        &dir,
        &format!("{url}#step=3"),
        &["--dump-dom", "--virtual-time-budget=5000"],
    );
    assert_eq!(attr(&dom, "data-selected"), Some("3"));
    assert_eq!(attr(&dom, "data-errors"), Some("0"), "errors:\n{dom}");
    assert!(dom.contains("znodes after step 3"), "no tree for step 3");

    // And it makes a screenshot.
    let png = dir.join("zombie.png");
    headless(
        &browser,
        &dir,
        &url,
        &[&format!("--screenshot={}", png.display())],
    );
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
}

/// The `N` of the first "N steps" (or "N step") in `text`.
fn steps_in(text: &str) -> u64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| w.trim_end_matches([',', ';']) == "steps" || *w == "step")
        .unwrap_or_else(|| panic!("no step count in {text:?}"));
    words[i - 1]
        .parse()
        .unwrap_or_else(|_| panic!("no step count in {text:?}"))
}

#[test]
fn render_html_the_page_and_replay_report_the_same_step_count() {
    // Goal: the step count is the actions taken (the start, step 0, is not one) everywhere:
    // `replay`'s line, `render --html`'s line, the page's verdict and its data-steps.
    let dir = temp_dir("html-steps");
    let trace = zombie_path();
    let out = dir.join("zombie.html");
    let bin = env!("CARGO_BIN_EXE_zksim");
    let replay = Command::new(bin)
        .arg("replay")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(replay.status.success(), "{replay:?}");
    let replayed = steps_in(&String::from_utf8_lossy(&replay.stdout));
    let render = Command::new(bin)
        .arg("render")
        .arg(&trace)
        .arg("--html")
        .arg(&out)
        .output()
        .unwrap();
    assert!(render.status.success(), "{render:?}");
    let rendered = steps_in(&String::from_utf8_lossy(&render.stdout));
    let data = page_data(&std::fs::read_to_string(&out).unwrap());
    let shown = steps_in(data["verdict"].as_str().unwrap());
    let t = zombie();
    assert_eq!(t.steps.len() as u64, t.end.as_ref().unwrap().steps + 1);
    assert_eq!(
        (rendered, shown, data["steps_taken"].as_u64().unwrap()),
        (replayed, replayed, replayed),
        "render --html's line, the page's verdict and its count against replay's"
    );
}

/// Appended to a page, measures its layout once the page's own script has drawn it: every lane
/// head inside the timeline and the window, every row label inside its lane's head (so inside
/// its lane) and either whole or cut with an ellipsis and whole in its tooltip, no label across
/// the lanes wider than the timeline, no line of the step panel or the tree cut at its edge.
/// It writes what it found into `<pre id="layout">` and counts into body attributes.
const LAYOUT_CHECK: &str = r#"<script>
(function () {
  var problems = [], checked = 0, cut = 0;
  var vw = document.documentElement.clientWidth;
  var box = document.getElementById('scroll').getBoundingClientRect();
  var right = Math.min(box.right, vw) + 0.5;
  var heads = {};
  document.querySelectorAll('.lane-head').forEach(function (h) {
    var b = h.getBoundingClientRect(), name = h.getAttribute('data-lane');
    heads[name] = b;
    if (b.left < box.left - 0.5 || b.right > right) problems.push('lane ' + name + ' at ' + b.left + '..' + b.right + ', the timeline ' + box.left + '..' + right);
    if (h.scrollWidth > h.clientWidth) problems.push('lane head ' + name + ' cut');
  });
  document.querySelectorAll('#svg text.row').forEach(function (t) {
    var b = t.getBoundingClientRect(), lane = t.getAttribute('data-lane');
    var title = t.querySelector('title');
    var full = title ? title.textContent : null, shown = t.firstChild.nodeValue;
    var h = lane === null ? { left: box.left, right: right } : heads[lane];
    checked++;
    if (!h) { problems.push('a label in no lane: ' + shown); return; }
    if (b.left < h.left - 0.5 || b.right > h.right + 0.5) problems.push('label "' + shown + '" at ' + b.left + '..' + b.right + ' outside lane ' + lane + ' ' + h.left + '..' + h.right);
    if (full === null) problems.push('label "' + shown + '" has no tooltip');
    else if (shown !== full) {
      cut++;
      if (shown.slice(-1) !== '…' || full.indexOf(shown.slice(0, -1)) !== 0) problems.push('label "' + shown + '" is not its tooltip "' + full + '" cut');
    }
  });
  document.querySelectorAll('#stepinfo .events div, #tree .node').forEach(function (d) {
    if (d.scrollWidth > d.clientWidth + 1 || d.getBoundingClientRect().right > vw + 0.5) problems.push('side panel line cut: ' + d.textContent);
  });
  document.body.setAttribute('data-layout-problems', String(problems.length));
  document.body.setAttribute('data-labels-checked', String(checked));
  document.body.setAttribute('data-labels-cut', String(cut));
  document.body.setAttribute('data-viewport', String(vw));
  var pre = document.createElement('pre');
  pre.id = 'layout';
  pre.textContent = problems.join('\n');
  document.body.appendChild(pre);
})();
</script>
</body>"#;

#[test]
fn at_1024_pixels_wide_every_lane_is_on_screen_and_every_label_stays_inside_its_lane() {
    // Goal: the zk lane is visible in a 1024 px window, labels are cut to their lane with an
    // ellipsis and their whole text as a tooltip, and the step panel wraps instead of cutting.
    let Some(browser) = chromium("html layout at 1024 px") else {
        return;
    };
    let dir = temp_dir("html-layout");
    let page = dir.join("zombie.html");
    let html = html::page(&zombie()).replace("</body>", LAYOUT_CHECK);
    std::fs::write(&page, html).unwrap();
    let url = format!("file://{}", page.display());
    // The violation's step has the longest labels: the multis, in the zk lane and the panel.
    for (at, size) in [
        ("#step=178", (1024, 768)),
        ("#step=60", (1024, 768)),
        ("", (1400, 900)),
    ] {
        let dom = headless_sized(&browser, &dir, &format!("{url}{at}"), size, &["--dump-dom"]);
        let problems = dom
            .split("<pre id=\"layout\">")
            .nth(1)
            .and_then(|rest| rest.split("</pre>").next())
            .unwrap_or("(no layout report)");
        assert_eq!(attr(&dom, "data-errors"), Some("0"), "errors:\n{dom}");
        assert_eq!(
            attr(&dom, "data-viewport"),
            Some(size.0.to_string().as_str())
        );
        assert_eq!(
            attr(&dom, "data-layout-problems"),
            Some("0"),
            "{size:?}{at}:\n{problems}"
        );
        let checked: usize = attr(&dom, "data-labels-checked").unwrap().parse().unwrap();
        assert!(checked >= 20, "{size:?}{at}: only {checked} labels checked");
        let cut: usize = attr(&dom, "data-labels-cut").unwrap().parse().unwrap();
        assert!(
            cut > 0,
            "{size:?}{at}: no label was cut, so none was checked for it"
        );
    }
}

#[test]
fn zksim_render_writes_the_page_with_html_and_prints_the_diagram_with_mermaid() {
    // Goal: the command line wires both outputs; the page file is the library's page.
    let dir = temp_dir("html-cli");
    let trace =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html/election-start.jsonl");
    let out = dir.join("run.html");
    let bin = env!("CARGO_BIN_EXE_zksim");
    let o = Command::new(bin)
        .arg("render")
        .arg(&trace)
        .arg("--html")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), html::page(&small()));
    let o = Command::new(bin)
        .arg("render")
        .arg(&trace)
        .arg("--mermaid")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        html::mermaid::mermaid(&small())
    );
}
