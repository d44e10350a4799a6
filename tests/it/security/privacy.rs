//! No personal data in any public answer.

use serde_json::json;

use super::Servers;
use super::fixture::{dossier, dossier_code, filed, push};
use super::injection::{OPEN311_REQUESTS, pct};
use crate::harness::{bearer_with, post_form, send_sms_from, unix_now};

/// Data with a known name, phone, e-mail and JWT subject, filed through every channel; no
/// public answer shows any of them.
pub(super) fn no_personal_data_in_public_answers(s: &Servers) -> Result<(), String> {
    crate::reports::set_catalogue(s.reports)?;
    let stamp = unix_now();
    let name = "Hoàng Thị Kínđáo";
    let phone = "0977123987";
    let email = "kindao.hoang@example.vn";
    let sub = format!("sec-pii-sub-{stamp}");
    let needles = [name, "Kínđáo", "Kindao", "kindao", "977123987", email, &sub];
    let token = bearer_with(&json!({"sub": sub, "phone": phone, "email": email, "name": name}));
    // permit-status: a dossier of hers.
    let code = dossier_code(41);
    push(s, &code, &dossier(4, "2024-11-06T09:00:00+07:00", 150_000, name, phone))?;
    // report-submission: a report through the app (name, phone, token), Open311 and SMS.
    let lat = 16.1200;
    let rep = filed(
        s,
        &json!({"category": "rubbish", "description": "Rác bảo mật", "lat": lat, "lng": 108.0700, "name": name, "phone": phone}),
        &[("authorization", &token)],
    )?;
    let rep_code = rep["code"].as_str().unwrap_or_default().to_owned();
    let form = format!(
        "api_key=e2e-open311-key&service_code=rubbish&lat={lat}&long=108.0705&description=R%C3%A1c&first_name={}&last_name={}\
         &phone={phone}&email={}&device_id={}",
        pct("Kínđáo"),
        pct("Hoàng Thị"),
        pct(email),
        pct(&sub)
    );
    let r = post_form(s.reports, OPEN311_REQUESTS, &form)?;
    ensure!(r.status == 200, "open311: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let o311 = r.json()?[0]["service_request_id"].as_str().unwrap_or_default().to_owned();
    let sms = send_sms_from(
        s.reports,
        "/reports/sms",
        &format!("sec-pii-{stamp}"),
        "84977123987",
        &format!("PA Rác ở kiệt {stamp}"),
    )?;
    ensure!(sms.status == 200, "sms: {}", sms.status);
    let sms_code = sms.json()?["reply"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .nth(4)
        .unwrap_or_default()
        .trim_end_matches(',')
        .to_owned();
    // food-safety: an SMS from her phone (kept for "ATTP 2" picks).
    send_sms_from(s.food, "/food-safety/sms", &format!("sec-pii-{stamp}"), "84977123987", "ATTP ba")?;
    let bbox = format!("108.0690,{:.4},108.0720,{:.4}", lat - 0.001, lat + 0.001);
    let public = [
        "/food-safety/establishments?district=bao%20mat".to_owned(),
        "/food-safety/establishments?q=ba".to_owned(),
        format!("/permits/{code}"),
        format!("/permits/{code}?phone=0000"),
        format!("/reports/{rep_code}"),
        format!("/reports/{sms_code}"),
        format!("/reports/{o311}"),
        format!("/reports?bbox={bbox}"),
        "/reports?category=rubbish".to_owned(),
        "/reports/stats".to_owned(),
        "/open311/v2/requests.json".to_owned(),
        format!("/open311/v2/requests.json?service_request_id={rep_code},{o311},{sms_code}"),
        format!("/open311/v2/requests/{rep_code}.json"),
        format!("/open311/v2/requests/{o311}.json"),
        format!("/open311/v2/requests/{sms_code}.json"),
        format!("/open311/v2/tokens/{o311}.json"),
        format!("/open311/v2/requests/{o311}.xml"),
        "/open311/v2/requests.xml".to_owned(),
        "/open311/v2/servicerequestupdates.json".to_owned(),
        "/open311/v2/servicerequestupdates.xml".to_owned(),
    ];
    let mut leaks = Vec::new();
    for path in &public {
        let r = s.send("GET", path, &[], b"")?;
        ensure!(r.status == 200, "GET {path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        let text = String::from_utf8_lossy(&r.body);
        for n in needles {
            if text.contains(n) {
                leaks.push(format!("{path} shows {n:?}"));
            }
        }
    }
    // Public SMS answers: anyone can text HS <code> or TT <code>.
    for (path, text) in [("/permits/sms", format!("HS {code}")), ("/reports/sms", format!("TT {rep_code}"))] {
        let r = send_sms_from(s.owner(path)?, path, &format!("sec-pii-tt-{stamp}-{path}"), "84911999888", &text)?;
        let reply = String::from_utf8_lossy(&r.body).to_string();
        for n in needles {
            if reply.contains(n) {
                leaks.push(format!("{path} {text} reply shows {n:?}"));
            }
        }
    }
    // Another citizen's token is not hers: the permit view stays public.
    let other = bearer_with(&json!({"sub": "sec-someone", "phone": "0911000111"}));
    let r = s.send("GET", &format!("/permits/{code}"), &[("authorization", &other)], b"")?;
    let text = String::from_utf8_lossy(&r.body);
    if needles.iter().any(|n| text.contains(n)) {
        leaks.push(format!("/permits/{code} with another citizen's token: {text}"));
    }
    ensure!(leaks.is_empty(), "personal data in public answers:\n{}", leaks.join("\n"));
    Ok(())
}
