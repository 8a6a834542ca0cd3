//! The readable half of a subject-access bundle: one self-contained HTML document that
//! prints well (no scripts, no outside resources), made from the bundle's JSON so the two
//! always agree. Every value is HTML-escaped.

use serde_json::Value;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A definition list of an object's fields.
fn fields(v: &Value) -> String {
    let mut o = String::from("<dl>");
    if let Value::Object(m) = v {
        for (k, v) in m {
            o.push_str(&format!(
                "<dt>{}</dt><dd>{}</dd>",
                esc(&k.replace('_', " ")),
                esc(&text(v))
            ));
        }
    }
    o.push_str("</dl>");
    o
}

/// A table of an array of objects, one column per key of the first.
fn table(caption: &str, v: &Value) -> String {
    let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
        return format!("<h2>{}</h2><p>None held.</p>", esc(caption));
    };
    let cols: Vec<String> = items[0]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut o = format!("<h2>{}</h2><table><thead><tr>", esc(caption));
    for c in &cols {
        o.push_str(&format!(
            "<th scope=\"col\">{}</th>",
            esc(&c.replace('_', " "))
        ));
    }
    o.push_str("</tr></thead><tbody>");
    for it in items {
        o.push_str("<tr>");
        for c in &cols {
            o.push_str(&format!("<td>{}</td>", esc(&text(&it[c.as_str()]))));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

/// Renders a bundle (as built by `records::access`).
pub(crate) fn render(b: &Value) -> String {
    let code = b["client"]["code"].as_str().unwrap_or_default();
    let mut o = format!(
        "<!doctype html><html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>Subject access: {code}</title>\
<style>body{{font:11pt/1.45 system-ui,sans-serif;max-width:48rem;margin:2rem auto;color:#111}}\
h1{{font-size:1.5rem}}h2{{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #999}}\
table{{border-collapse:collapse;width:100%}}th,td{{border:1px solid #bbb;padding:.25rem .4rem;text-align:left;vertical-align:top}}\
dt{{font-weight:600}}dd{{margin:0 0 .4rem 0;white-space:pre-wrap}}.note{{page-break-inside:avoid;border:1px solid #ccc;padding:.5rem;margin:.5rem 0}}\
@media print{{body{{margin:0}}}}</style></head><body>",
        code = esc(code)
    );
    let controller: Vec<String> = ["practice_name", "therapist_name", "registration"]
        .iter()
        .filter_map(|k| b["controller"][k].as_str().map(esc))
        .collect();
    if !controller.is_empty() {
        o.push_str(&format!(
            "<p class=\"controller\">Records held by {}</p>",
            controller.join(" · ")
        ));
    }
    o.push_str(&format!(
        "<h1>Subject access request — records held about client {}</h1>\
<p>Request received <strong>{}</strong>; response due by <strong>{}</strong> (one calendar month). Prepared {}.</p>",
        esc(code),
        esc(&text(&b["request"]["received_on"])),
        esc(&text(&b["request"]["due_on"])),
        esc(&text(&b["generated_at"]))
    ));
    o.push_str("<h2>Identity details</h2>");
    o.push_str(&fields(&b["identity"]));
    o.push_str(&table(
        "Changes to identity details",
        &b["identity_history"],
    ));
    o.push_str("<h2>Client record</h2>");
    o.push_str(&fields(&b["client"]));
    o.push_str(&table("Appointments", &b["appointments"]));
    o.push_str("<h2>Session notes</h2>");
    match b["session_notes"].as_array().filter(|a| !a.is_empty()) {
        None => o.push_str("<p>None held.</p>"),
        Some(notes) => {
            for n in notes {
                o.push_str(&format!(
                    "<div class=\"note\"><p><strong>{}</strong> note, {} — written {}</p>",
                    esc(&text(&n["template"])),
                    esc(&text(&n["status"])),
                    esc(&text(&n["created_at"]))
                ));
                o.push_str(&fields(&n["fields"]));
                if let Some(adds) = n["addenda"].as_array() {
                    for a in adds {
                        o.push_str(&format!(
                            "<p><em>Addendum {}:</em> {}</p>",
                            esc(&text(&a["created_at"])),
                            esc(&text(&a["text"]))
                        ));
                    }
                }
                o.push_str("</div>");
            }
        }
    }
    o.push_str(&table("Outcome measures", &b["outcome_measures"]));
    if b["process_notes"].is_array() {
        o.push_str(&table("Process notes", &b["process_notes"]));
    }
    o.push_str("<h2>Retention</h2>");
    o.push_str(&fields(&b["retention"]));
    o.push_str(&table("Withheld from this response", &b["withheld"]));
    o.push_str("</body></html>\n");
    o
}
