//! Open311 GeoReport v2 over HTTP, on both runtimes: a JSON client's round, a FixMyStreet-
//! shaped exchange in XML read with a parser the project did not write (roxmltree), the two
//! formats compared answer for answer, and an agency's case system moving a report through
//! `servicerequestupdates`.

use roxmltree::{Document, Node};
use serde_json::{Map, Value, json};

use crate::harness::{Resp, Server, bearer_with, get, post_form, request, unix_now};
use crate::reports::set_catalogue;

/// A JSON type as the Open311 GeoReport v2 schemas state it.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Num,
    DateTime,
    OneOf(&'static [&'static str]),
}

/// Checks an object against the field rules of a published Open311 schema (open311/
/// schema-validation, `schema/georeport-v2/*.json`): required fields present with their type,
/// optional ones of their type or null, and no field we would not know how to type.
fn conforms(what: &str, v: &Value, required: &[(&str, Kind)], optional: &[(&str, Kind)]) -> Result<(), String> {
    let obj = v.as_object().ok_or(format!("{what}: not an object: {v}"))?;
    let ok = |k: Kind, x: &Value| match k {
        Kind::Str => x.is_string(),
        Kind::Bool => x.is_boolean(),
        Kind::Num => x.is_number(),
        Kind::DateTime => x.as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        Kind::OneOf(list) => x.as_str().is_some_and(|t| list.contains(&t)),
    };
    for (field, kind) in required {
        ensure!(obj.get(*field).is_some_and(|x| ok(*kind, x)), "{what}: required {field} missing or mistyped: {v}");
    }
    for (field, x) in obj {
        if required.iter().any(|(f, _)| f == field) {
            continue;
        }
        let kind = optional
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, k)| *k)
            .ok_or(format!("{what}: unknown field {field}"))?;
        ensure!(x.is_null() || ok(kind, x), "{what}: {field} mistyped: {v}");
    }
    Ok(())
}

fn conforms_service(v: &Value) -> Result<(), String> {
    let required = [
        ("service_code", Kind::Str),
        ("service_name", Kind::Str),
        ("metadata", Kind::Bool),
        ("type", Kind::OneOf(&["realtime", "batch", "blackbox"])),
    ];
    conforms("service", v, &required, &[("description", Kind::Str), ("keywords", Kind::Str), ("group", Kind::Str)])
}

fn conforms_request(v: &Value) -> Result<(), String> {
    let required = [
        ("service_request_id", Kind::Str),
        ("status", Kind::OneOf(&["open", "closed"])),
        ("service_code", Kind::Str),
        ("requested_datetime", Kind::DateTime),
    ];
    let optional = [
        ("status_notes", Kind::Str),
        ("service_name", Kind::Str),
        ("description", Kind::Str),
        ("agency_responsible", Kind::Str),
        ("service_notice", Kind::Str),
        ("updated_datetime", Kind::DateTime),
        ("expected_datetime", Kind::DateTime),
        ("address", Kind::Str),
        ("address_id", Kind::Str),
        ("zipcode", Kind::Str),
        ("lat", Kind::Num),
        ("long", Kind::Num),
        ("media_url", Kind::Str),
    ];
    conforms("request", v, &required, &optional)?;
    ensure!(v["description"].as_str().is_none_or(|d| d.chars().count() <= 4000), "description over 4000");
    Ok(())
}

/// An Open311 client's round: services, a form-encoded request with an api_key, reading it
/// back; every answer conforms to the published GeoReport v2 schemas.
pub fn round_trip(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let services = get(&s.addr, "/open311/v2/services.json")?.json()?;
    let codes: Vec<&str> =
        services.as_array().map(|l| l.iter().filter_map(|x| x["service_code"].as_str()).collect()).unwrap_or_default();
    ensure!(codes.contains(&"road-damage") && codes.contains(&"rubbish"), "services {services}");
    for service in services.as_array().into_iter().flatten() {
        conforms_service(service)?;
    }
    let definition = get(&s.addr, "/open311/v2/services/rubbish.json")?.json()?;
    // service-definition.json: service_code (string) and attributes (an array; ours has none)
    ensure!(
        definition.as_object().map(|o| o.len()) == Some(2)
            && definition["service_code"] == "rubbish"
            && definition["attributes"].as_array().is_some_and(Vec::is_empty),
        "definition {definition}"
    );
    let form = "api_key=another-client-key&service_code=rubbish&lat=16.0200&long=108.2300\
                &description=R%C3%A1c+%C4%91%E1%BB%95+tr%E1%BB%99m&first_name=An&phone=0905123456";
    let post = |form: &str| post_form(s, "/open311/v2/requests.json", form);
    let created = post(form)?;
    ensure!(created.status == 200, "POST requests.json: {} {}", created.status, String::from_utf8_lossy(&created.body));
    let answer = created.json()?;
    conforms(
        "POST answer",
        &answer[0],
        &[("service_request_id", Kind::Str)],
        &[("service_notice", Kind::Str), ("account_id", Kind::Str), ("token", Kind::Str)],
    )?;
    let id = answer[0]["service_request_id"].as_str().unwrap_or_default().to_owned();
    ensure!(id.starts_with("PA-"), "id {id}");
    let back = get(&s.addr, &format!("/open311/v2/requests/{id}.json"))?.json()?;
    let r = &back[0];
    ensure!(
        r["service_request_id"] == id.as_str() && r["status"] == "open" && r["service_code"] == "rubbish",
        "{back}"
    );
    ensure!(
        r["lat"] == 16.02
            && r["long"] == 108.23
            && r["requested_datetime"].as_str().is_some_and(|t| t.ends_with("+07:00")),
        "{back}"
    );
    ensure!(!back.to_string().contains("0905"), "personal data shown: {back}");
    conforms_request(r)?;
    let listed = get(&s.addr, "/open311/v2/requests.json?status=open")?.json()?;
    ensure!(listed.as_array().is_some_and(|l| !l.is_empty()), "list {listed}");
    for request in listed.as_array().into_iter().flatten() {
        conforms_request(request)?;
    }
    let token = get(&s.addr, &format!("/open311/v2/tokens/{id}.json"))?.json()?;
    conforms("token", &token[0], &[("service_request_id", Kind::Str), ("token", Kind::Str)], &[])?;
    let forbidden = post(&form.replace("another-client-key", "guess"))?;
    ensure!(forbidden.status == 403 && forbidden.json()?[0]["code"] == 403, "bad api_key: {}", forbidden.status);
    let missing = post("api_key=e2e-open311-key&service_code=rubbish&description=x")?;
    ensure!(missing.status == 400 && missing.json()?[0]["code"] == 400, "no location: {}", missing.status);
    let unknown = get(&s.addr, "/open311/v2/requests/PA-000000-0000.json")?;
    ensure!(unknown.status == 404 && unknown.json()?[0]["code"] == 404, "unknown: {}", unknown.status);
    Ok(())
}

/// The XML text of an Open311 answer, after checking its media type and declaration.
fn xml_text(r: &Resp) -> Result<String, String> {
    ensure!(r.header("content-type") == Some("text/xml; charset=utf-8"), "content-type {:?}", r.header("content-type"));
    let text = String::from_utf8(r.body.clone()).map_err(|e| format!("not UTF-8: {e}"))?;
    ensure!(text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"), "declaration: {text}");
    Ok(text)
}

fn parse(text: &str) -> Result<Document<'_>, String> {
    Document::parse(text).map_err(|e| format!("not XML ({e}): {text}"))
}

/// The element children of `node` named `name`.
fn kids<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| c.is_element() && c.has_tag_name(name))
}

/// The text of `node`'s child `name` ("" when empty), or an error naming what is missing.
fn text_of<'a>(node: Node<'a, '_>, name: &str) -> Result<&'a str, String> {
    node.children()
        .find(|c| c.is_element() && c.has_tag_name(name))
        .map(|c| c.text().unwrap_or(""))
        .ok_or_else(|| format!("<{}> has no <{name}>", node.tag_name().name()))
}

/// An Open311 XML error: the status, and the `errors/error/code` that matches it.
fn xml_error(r: &Resp, status: u16) -> Result<String, String> {
    ensure!(r.status == status, "status {} (want {status}): {}", r.status, String::from_utf8_lossy(&r.body));
    let text = xml_text(r)?;
    let doc = parse(&text)?;
    let root = doc.root_element();
    ensure!(root.has_tag_name("errors"), "root <{}>", root.tag_name().name());
    let error = kids(root, "error").next().ok_or("no <error>")?;
    ensure!(text_of(error, "code")? == status.to_string(), "code in {text}");
    Ok(text_of(error, "description")?.to_owned())
}

/// The elements whose children are a list (the Spark convention's plural names).
const LISTS: [&str; 8] = [
    "services",
    "service_requests",
    "attributes",
    "values",
    "errors",
    "endpoints",
    "formats",
    "service_request_updates",
];

/// An XML element as the JSON the Spark convention makes of it, every scalar as text.
fn spark(node: Node<'_, '_>) -> Value {
    let children: Vec<Node<'_, '_>> = node.children().filter(Node::is_element).collect();
    if LISTS.contains(&node.tag_name().name()) {
        Value::Array(children.into_iter().map(spark).collect())
    } else if children.is_empty() {
        node.text().filter(|t| !t.is_empty()).map_or(Value::Null, |t| Value::String(t.to_owned()))
    } else {
        Value::Object(children.into_iter().map(|c| (c.tag_name().name().to_owned(), spark(c))).collect::<Map<_, _>>())
    }
}

/// A JSON answer with every scalar as text and "" as null, to compare with [`spark`].
fn as_text(v: &Value) -> Value {
    match v {
        Value::String(s) if s.is_empty() => Value::Null,
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(as_text).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), as_text(v))).collect()),
        other => other.clone(),
    }
}

/// The same path in both formats gives the same data.
fn agree(s: &Server, path: &str) -> Result<(), String> {
    let json = get(&s.addr, &format!("{path}.json"))?;
    let xml = get(&s.addr, &format!("{path}.xml"))?;
    ensure!(json.status == xml.status, "{path}: {} against {}", json.status, xml.status);
    let text = String::from_utf8(xml.body.clone()).map_err(|e| e.to_string())?;
    let from_xml = spark(parse(&text)?.root_element());
    let from_json = as_text(&json.json()?);
    ensure!(from_xml == from_json, "{path}: XML {from_xml} against JSON {from_json}");
    Ok(())
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A form body from pairs.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// The exchange FixMyStreet has with a council's Open311 server, in XML: discovery,
/// services, a definition with attributes, a report with answers, reading it back, and an
/// agency's system posting updates that the report's history and the updates list show.
pub fn fixmystreet_exchange(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    let discovery = xml_text(&get(&s.addr, "/open311/v2/discovery.xml")?)?;
    let doc = parse(&discovery)?;
    let formats: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("format")).filter_map(|n| n.text()).collect();
    ensure!(formats == ["text/xml", "application/json"], "formats {formats:?}");

    let services = xml_text(&get(&s.addr, "/open311/v2/services.xml?jurisdiction_id=danang.gov.vn")?)?;
    let doc = parse(&services)?;
    ensure!(doc.root_element().has_tag_name("services"), "{services}");
    let light = kids(doc.root_element(), "service")
        .find(|n| text_of(*n, "service_code").ok() == Some("street-light"))
        .ok_or(format!("no street-light in {services}"))?;
    ensure!(text_of(light, "metadata")? == "true" && text_of(light, "type")? == "realtime", "{services}");
    let rubbish = kids(doc.root_element(), "service").find(|n| text_of(*n, "service_code").ok() == Some("rubbish"));
    ensure!(rubbish.and_then(|n| text_of(n, "metadata").ok()) == Some("false"), "{services}");

    let definition = xml_text(&get(&s.addr, "/open311/v2/services/street-light.xml")?)?;
    let doc = parse(&definition)?;
    let root = doc.root_element();
    ensure!(
        root.has_tag_name("service_definition") && text_of(root, "service_code")? == "street-light",
        "{definition}"
    );
    let attributes: Vec<Node<'_, '_>> =
        kids(root, "attributes").next().map(|a| kids(a, "attribute").collect()).unwrap_or_default();
    let codes: Vec<&str> = attributes.iter().filter_map(|a| text_of(*a, "code").ok()).collect();
    ensure!(codes == ["pole", "fault", "lamps", "safety"], "attribute order {codes:?}");
    let fault = attributes[1];
    ensure!(
        text_of(fault, "datatype")? == "multivaluelist"
            && text_of(fault, "required")? == "true"
            && text_of(fault, "variable")? == "true"
            && text_of(fault, "order")? == "2",
        "{definition}"
    );
    let keys: Vec<&str> =
        kids(fault, "values").flat_map(|v| kids(v, "value")).filter_map(|v| text_of(v, "key").ok()).collect();
    ensure!(keys == ["dark", "flicker", "day"], "values {keys:?}");
    ensure!(text_of(attributes[3], "variable")? == "false", "a note takes no answer: {definition}");
    ensure!(text_of(attributes[0], "datatype_description")? == "VD: HC-0412", "{definition}");

    // The citizen's photo first (its GPS must not reach the city's server), then POST
    // requests.xml as FixMyStreet sends it: its fields, the attributes, the photo's URL.
    let who = bearer_with(&json!({"sub": format!("e2e-open311-photo-{}", unix_now())}));
    let upload = [("authorization", who.as_str()), ("content-type", "image/jpeg")];
    let photo = request(&s.addr, "POST", "/reports/media", &upload, crate::media::JPEG)?;
    ensure!(photo.status == 201, "photo: {} {}", photo.status, String::from_utf8_lossy(&photo.body));
    let photo_url = photo.json()?["url"].as_str().unwrap_or_default().to_owned();
    let fields = [
        ("api_key", "e2e-open311-key"),
        ("jurisdiction_id", "danang.gov.vn"),
        ("service_code", "street-light"),
        ("lat", "16.0412"),
        ("long", "108.2101"),
        ("address_string", "12 Bạch Đằng, Hải Châu"),
        ("description", "Đèn đường tắt cả tuần <nay> & không ai sửa"),
        ("email", "an@example.vn"),
        ("first_name", "An"),
        ("last_name", "Nguyễn"),
        ("phone", "0905111222"),
        ("attribute[pole]", "HC-0412"),
        ("attribute[fault][]", "dark"),
        ("attribute[fault][]", "flicker"),
        ("attribute[lamps]", "2"),
        ("media_url", photo_url.as_str()),
    ];
    let created = post_form(s, "/open311/v2/requests.xml", &form(&fields))?;
    ensure!(created.status == 200, "POST requests.xml: {} {}", created.status, String::from_utf8_lossy(&created.body));
    let text = xml_text(&created)?;
    let doc = parse(&text)?;
    let request = kids(doc.root_element(), "request").next().ok_or(format!("no <request>: {text}"))?;
    let id = text_of(request, "service_request_id")?.to_owned();
    ensure!(id.starts_with("PA-") && text_of(request, "service_notice")?.starts_with("Hạn xử lý"), "{text}");

    let missing: Vec<(&str, &str)> = fields.iter().copied().filter(|(k, _)| *k != "attribute[pole]").collect();
    let why = xml_error(&post_form(s, "/open311/v2/requests.xml", &form(&missing))?, 400)?;
    ensure!(why.contains("attribute[pole]"), "a required attribute missing: {why}");
    let mut bad = fields.to_vec();
    bad.push(("attribute[fault][]", "smoke"));
    let why = xml_error(&post_form(s, "/open311/v2/requests.xml", &form(&bad))?, 400)?;
    ensure!(why.contains("attribute[fault]"), "not one of the values: {why}");
    let mut elsewhere = fields.to_vec();
    elsewhere[1] = ("jurisdiction_id", "hue.gov.vn");
    xml_error(&post_form(s, "/open311/v2/requests.xml", &form(&elsewhere))?, 404)?;
    xml_error(&get(&s.addr, "/open311/v2/services.xml?jurisdiction_id=hue.gov.vn")?, 404)?;
    ensure!(
        get(&s.addr, "/open311/v2/services.xml?jurisdiction_id=")?.status == 200,
        "an empty jurisdiction_id is none"
    );

    let back = xml_text(&get(&s.addr, &format!("/open311/v2/requests/{id}.xml"))?)?;
    let doc = parse(&back)?;
    ensure!(doc.root_element().has_tag_name("service_requests"), "{back}");
    let r = kids(doc.root_element(), "request").next().ok_or("no <request>")?;
    ensure!(
        text_of(r, "service_request_id")? == id
            && text_of(r, "status")? == "open"
            && text_of(r, "description")? == "Đèn đường tắt cả tuần <nay> & không ai sửa"
            && text_of(r, "agency_responsible")? == "Công ty Điện chiếu sáng"
            && text_of(r, "lat")? == "16.0412",
        "{back}"
    );
    ensure!(!back.contains("0905111222") && !back.contains("an@example.vn"), "personal data shown: {back}");
    ensure!(text_of(r, "media_url")? == photo_url, "media_url in {back}");
    let path = photo_url.find("/reports/media/").map_or("", |at| &photo_url[at..]);
    let served = get(&s.addr, path)?;
    ensure!(served.status == 200 && served.header("content-type") == Some("image/jpeg"), "photo {}", served.status);
    ensure!(!served.body.windows(10).any(|w| w == b"CivicPhone"), "the photo kept its EXIF");
    let native = get(&s.addr, &format!("/reports/{id}"))?.json()?;
    ensure!(native["attributes"] == json!({"pole": "HC-0412", "fault": ["dark", "flicker"], "lamps": 2.0}), "{native}");

    agency_updates(s, &id)
}

/// An agency's own case system moves the report through `servicerequestupdates.xml`; a
/// repeated update changes nothing; the citizen's view, the history and the updates list
/// show it; the wrong keys are refused.
fn agency_updates(s: &Server, id: &str) -> Result<(), String> {
    let update_id = format!("cs-{id}-1");
    let update = |key: &str, uid: &str, status: &str, description: &str| -> Result<Resp, String> {
        let body = form(&[
            ("api_key", key),
            ("service_request_id", id),
            ("update_id", uid),
            ("status", status),
            ("description", description),
            ("updated_datetime", "2026-11-30T09:00:00+07:00"),
            ("first_name", "Bình"),
        ]);
        post_form(s, "/open311/v2/servicerequestupdates.xml", &body)
    };
    let first = update("e2e-lights-key", &update_id, "INVESTIGATING", "Đội kỹ thuật đang kiểm tra")?;
    ensure!(first.status == 200, "update: {} {}", first.status, String::from_utf8_lossy(&first.body));
    let text = xml_text(&first)?;
    let doc = parse(&text)?;
    ensure!(doc.root_element().has_tag_name("service_request_updates"), "{text}");
    let ours = text_of(kids(doc.root_element(), "request_update").next().ok_or("no <request_update>")?, "update_id")?
        .to_owned();
    ensure!(ours == format!("{id}.2"), "update_id {ours}");
    let again = update("e2e-lights-key", &update_id, "INVESTIGATING", "Đội kỹ thuật đang kiểm tra")?;
    ensure!(again.status == 200 && again.body == first.body, "a repeat: {}", String::from_utf8_lossy(&again.body));

    xml_error(&update("another-client-key", "x-1", "FIXED", "")?, 403)?;
    xml_error(&update("e2e-rubbish-key", "x-2", "FIXED", "")?, 403)?;
    xml_error(&update("e2e-lights-key", "x-3", "DONE", "")?, 400)?;

    let fixed = update("e2e-lights-key", &format!("cs-{id}-2"), "FIXED", "Đã thay bóng đèn")?;
    ensure!(fixed.status == 200, "FIXED: {}", String::from_utf8_lossy(&fixed.body));
    xml_error(&update("e2e-lights-key", &format!("cs-{id}-3"), "INVESTIGATING", "")?, 409)?;

    let view = get(&s.addr, &format!("/reports/{id}"))?.json()?;
    let history: Vec<(&str, &str)> = view["history"]
        .as_array()
        .map(|h| h.iter().map(|e| (e["status"].as_str().unwrap_or(""), e["note"].as_str().unwrap_or(""))).collect())
        .unwrap_or_default();
    ensure!(view["status"] == "resolved", "{view}");
    ensure!(
        history == [("received", ""), ("in_progress", "Đội kỹ thuật đang kiểm tra"), ("resolved", "Đã thay bóng đèn")],
        "history {history:?}"
    );

    let window = "start_date=2020-01-01T00:00:00Z&end_date=2099-01-01T00:00:00%2B07:00";
    let listed = xml_text(&get(&s.addr, &format!("/open311/v2/servicerequestupdates.xml?{window}"))?)?;
    let doc = parse(&listed)?;
    let mine: Vec<(String, String, String)> = kids(doc.root_element(), "request_update")
        .filter(|u| text_of(*u, "service_request_id").ok() == Some(id))
        .map(|u| {
            let t = |f: &str| text_of(u, f).unwrap_or("").to_owned();
            (t("update_id"), t("status"), t("description"))
        })
        .collect();
    ensure!(
        mine == [
            (format!("{id}.2"), "INVESTIGATING".to_owned(), "Đội kỹ thuật đang kiểm tra".to_owned()),
            (format!("{id}.3"), "FIXED".to_owned(), "Đã thay bóng đèn".to_owned())
        ],
        "updates {mine:?}"
    );
    let open311 = xml_text(&get(&s.addr, &format!("/open311/v2/requests/{id}.xml"))?)?;
    ensure!(open311.contains("<status>closed</status>") && open311.contains("Đã thay bóng đèn"), "{open311}");
    Ok(())
}

/// Every route's JSON and XML carry the same data (the Spark convention), errors included.
pub fn json_and_xml_agree(s: &Server) -> Result<(), String> {
    set_catalogue(s)?;
    for path in [
        "/open311/v2/discovery",
        "/open311/v2/services",
        "/open311/v2/services/street-light",
        "/open311/v2/services/nope",
        "/open311/v2/requests/PA-000000-0000",
    ] {
        agree(s, path)?;
    }
    let form =
        "api_key=e2e-open311-key&service_code=rubbish&address_string=K30+L%C3%AA+Du%E1%BA%A9n&description=R%C3%A1c";
    let created = post_form(s, "/open311/v2/requests.json", form)?.json()?;
    let id = created[0]["service_request_id"].as_str().unwrap_or_default().to_owned();
    agree(s, &format!("/open311/v2/requests/{id}"))?;
    agree(s, &format!("/open311/v2/tokens/{id}"))?;
    let wrong = request(&s.addr, "DELETE", "/open311/v2/services.xml", &[], b"")?;
    ensure!(wrong.header("allow") == Some("GET"), "405 Allow {:?}", wrong.header("allow"));
    xml_error(&wrong, 405)?;
    Ok(())
}
