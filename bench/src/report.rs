//! Result rows, rendered as a Markdown table and as JSON (hand-written: no
//! serde needed for this little).
use std::fmt::Write as _;

/// A JSON value.
#[derive(Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn obj() -> Json {
        Json::Obj(Vec::new())
    }
    /// Add a member to an object (builder style).
    pub fn with(mut self, k: &str, v: impl Into<Json>) -> Json {
        if let Json::Obj(m) = &mut self {
            m.push((k.to_string(), v.into()));
        }
        self
    }
    pub fn push(&mut self, k: &str, v: impl Into<Json>) {
        if let Json::Obj(m) = self {
            m.push((k.to_string(), v.into()));
        }
    }

    pub fn render(&self, out: &mut String, indent: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => write!(out, "{i}").unwrap(),
            Json::Num(f) if f.is_finite() => {
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    write!(out, "{f:.1}").unwrap()
                } else {
                    write!(out, "{}", (f * 1e4).round() / 1e4).unwrap()
                }
            }
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => escape(s, out),
            Json::Arr(a) if a.is_empty() => out.push_str("[]"),
            Json::Arr(a) => {
                let flat = a.iter().all(|v| !matches!(v, Json::Arr(_) | Json::Obj(_)));
                if flat {
                    out.push('[');
                    for (i, v) in a.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        v.render(out, indent);
                    }
                    out.push(']');
                } else {
                    out.push_str("[\n");
                    for (i, v) in a.iter().enumerate() {
                        out.push_str(&pad(indent + 1));
                        v.render(out, indent + 1);
                        out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
                    }
                    out.push_str(&pad(indent));
                    out.push(']');
                }
            }
            Json::Obj(m) if m.is_empty() => out.push_str("{}"),
            Json::Obj(m) => {
                out.push_str("{\n");
                for (i, (k, v)) in m.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    escape(k, out);
                    out.push_str(": ");
                    v.render(out, indent + 1);
                    out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
        }
    }
}

fn escape(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}
impl From<f64> for Json {
    fn from(v: f64) -> Json {
        Json::Num(v)
    }
}
impl From<u64> for Json {
    fn from(v: u64) -> Json {
        Json::Int(v as i128)
    }
}
impl From<u32> for Json {
    fn from(v: u32) -> Json {
        Json::Int(v as i128)
    }
}
impl From<i64> for Json {
    fn from(v: i64) -> Json {
        Json::Int(v as i128)
    }
}
impl From<usize> for Json {
    fn from(v: usize) -> Json {
        Json::Int(v as i128)
    }
}
impl From<&str> for Json {
    fn from(v: &str) -> Json {
        Json::Str(v.to_string())
    }
}
impl From<String> for Json {
    fn from(v: String) -> Json {
        Json::Str(v)
    }
}
impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Json {
        v.map_or(Json::Null, Into::into)
    }
}
impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(v: Vec<T>) -> Json {
        Json::Arr(v.into_iter().map(Into::into).collect())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// The run cannot decide: its own measure of the method's error is
    /// larger than the margin the target needs. Not met.
    Inconclusive,
    Info,
}

impl Verdict {
    pub fn of(ok: bool) -> Verdict {
        if ok {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "**FAIL**",
            Verdict::Inconclusive => "**INCONCLUSIVE**",
            Verdict::Info => "info",
        }
    }
    pub fn json(self) -> Json {
        match self {
            Verdict::Pass => Json::Bool(true),
            Verdict::Fail => Json::Bool(false),
            Verdict::Inconclusive => Json::Str("inconclusive".into()),
            Verdict::Info => Json::Null,
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub item: String,
    pub config: String,
    pub value: String,
    pub target: String,
    pub verdict: Verdict,
    /// Machine-readable numbers of this row.
    pub data: Json,
}

pub fn row(id: &str, item: &str, config: &str, value: String, target: &str, verdict: Verdict, data: Json) -> Row {
    Row { id: id.into(), item: item.into(), config: config.into(), value, target: target.into(), verdict, data }
}

pub fn markdown(title: &str, meta: &[(String, String)], rows: &[Row], notes: &[String]) -> String {
    let mut s = String::new();
    writeln!(s, "## {title}\n").unwrap();
    for (k, v) in meta {
        writeln!(s, "- {k}: {v}").unwrap();
    }
    s.push('\n');
    s.push_str("| # | Measurement | Configuration | Result | Target | Verdict |\n");
    s.push_str("|---|---|---|---|---|---|\n");
    for r in rows {
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.id,
            r.item,
            r.config,
            r.value,
            if r.target.is_empty() { "—" } else { &r.target },
            r.verdict.text()
        )
        .unwrap();
    }
    let pass = rows.iter().filter(|r| r.verdict == Verdict::Pass).count();
    let not_met: Vec<&Row> =
        rows.iter().filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Inconclusive)).collect();
    let fail = not_met.iter().filter(|r| r.verdict == Verdict::Fail).count();
    let undecided = not_met.len() - fail;
    write!(s, "\n**Summary: {} targets checked, {pass} PASS, {fail} FAIL", pass + not_met.len()).unwrap();
    if undecided > 0 {
        write!(s, ", {undecided} INCONCLUSIVE").unwrap();
    }
    writeln!(s, ".**").unwrap();
    for r in &not_met {
        let v = if r.verdict == Verdict::Fail { "FAIL" } else { "INCONCLUSIVE" };
        writeln!(s, "- {v}: {} ({}): {} (target {})", r.item, r.config, r.value, r.target).unwrap();
    }
    if !notes.is_empty() {
        s.push('\n');
        for n in notes {
            writeln!(s, "- {n}").unwrap();
        }
    }
    s
}

pub fn json(meta: &[(String, String)], rows: &[Row], details: Json) -> String {
    let mut m = Json::obj();
    for (k, v) in meta {
        m.push(k, v.clone());
    }
    let rows_j: Vec<Json> = rows
        .iter()
        .map(|r| {
            Json::obj()
                .with("id", r.id.clone())
                .with("measurement", r.item.clone())
                .with("configuration", r.config.clone())
                .with("result", r.value.clone())
                .with("target", r.target.clone())
                .with("pass", r.verdict.json())
                .with("data", r.data.clone())
        })
        .collect();
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count() as u64;
    let (pass, fail, undecided) = (count(Verdict::Pass), count(Verdict::Fail), count(Verdict::Inconclusive));
    let doc = Json::obj()
        .with("meta", m)
        .with(
            "summary",
            Json::obj()
                .with("targets", pass + fail + undecided)
                .with("pass", pass)
                .with("fail", fail)
                .with("inconclusive", undecided),
        )
        .with("rows", Json::Arr(rows_j))
        .with("details", details);
    let mut s = String::new();
    doc.render(&mut s, 0);
    s.push('\n');
    s
}

/// 12345 -> "12,345".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// UTC "YYYY-MM-DD HH:MM:SS" of the current time.
pub fn utc_now() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}
