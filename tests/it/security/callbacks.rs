//! Forged and replayed partner callbacks (VNPay, MoMo, ZaloPay) and SMS webhooks: what
//! payments.rs, food.rs and permits.rs do not already cover.

use serde_json::{Value, json};

use super::Servers;
use super::fixture::{dossier, dossier_code, push};
use crate::harness::{
    MOMO_SECRET_KEY, SMS_SECRET, VNPAY_SECRET, ZALOPAY_KEY1, ZALOPAY_KEY2, get, is_problem, post_json, request,
    send_sms, send_sms_from, sign, sign512, unix_now,
};
use crate::payments::{create_order, momo_body, order_as_admin, vnpay_ipn, vnpay_params, vnpay_query, zalopay_body};

/// A dossier of its own for a payment check, with a 150,000 đ fee.
fn payable(s: &Servers, n: u32) -> Result<String, String> {
    let code = dossier_code(n);
    push(s, &code, &dossier(6, "2024-11-06T09:00:00+07:00", 150_000, "Nguyễn Văn An", "0905123456"))?;
    Ok(code)
}

fn outcomes(order: &Value) -> Vec<String> {
    order["callbacks"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["outcome"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// VNPay: forgeries payments.rs does not send (no hash, SHA-256 of the right secret, another
/// partner's secret, a hash over other parameters), a VNPay IPN for another wallet's order,
/// and replays after settlement (a new transaction number, a "cancelled" code) change nothing.
pub(super) fn vnpay_forgeries_and_replays_settle_nothing_twice(s: &Servers) -> Result<(), String> {
    let code = payable(s, 11)?;
    let o = create_order(s.payments, &code, "vnpay", "sec-vnpay")?;
    let r = o["txn_ref"].as_str().unwrap_or_default();
    let id = o["order_id"].as_str().unwrap_or_default();
    let params = vnpay_params(r, 15_000_000, "00", "71000011");
    let good = vnpay_query(&params, VNPAY_SECRET);
    let (data, _) = good.split_once("&vnp_SecureHashType=").ok_or("unsigned query")?;
    let p = s.payments;
    ensure!(vnpay_ipn(p, data)? == "97", "no hash");
    ensure!(vnpay_ipn(p, &format!("{data}&vnp_SecureHash="))? == "97", "empty hash");
    ensure!(
        vnpay_ipn(p, &format!("{data}&vnp_SecureHash={}", sign(VNPAY_SECRET, data.as_bytes())))? == "97",
        "SHA-256"
    );
    ensure!(vnpay_ipn(p, &vnpay_query(&params, MOMO_SECRET_KEY))? == "97", "another partner's secret");
    let other = vnpay_query(&vnpay_params(r, 15_000_000, "00", "71000099"), VNPAY_SECRET);
    let (_, other_hash) = other.rsplit_once("&vnp_SecureHash=").ok_or("unsigned")?;
    ensure!(vnpay_ipn(p, &format!("{data}&vnp_SecureHash={other_hash}"))? == "97", "hash of other parameters");
    ensure!(vnpay_ipn(p, &format!("{data}&vnp_SecureHash={}", "0".repeat(128)))? == "97", "zero hash");
    ensure!(order_as_admin(p, id)?["state"] == "pending", "forgeries changed the order");
    // A MoMo order's reference, properly signed as VNPay: not VNPay's order.
    let momo = create_order(p, &code, "momo", "sec-vnpay")?;
    let momo_ref = momo["txn_ref"].as_str().unwrap_or_default();
    ensure!(
        vnpay_ipn(p, &vnpay_query(&vnpay_params(momo_ref, 15_000_000, "00", "71000012"), VNPAY_SECRET))? == "01",
        "cross"
    );
    ensure!(
        order_as_admin(p, momo["order_id"].as_str().unwrap_or_default())?["state"] == "pending",
        "cross-provider settle"
    );
    // Settle, then replay: the same, a new transaction number, a cancellation.
    ensure!(vnpay_ipn(p, &good)? == "00", "settles");
    ensure!(vnpay_ipn(p, &good)? == "02", "replay");
    ensure!(
        vnpay_ipn(p, &vnpay_query(&vnpay_params(r, 15_000_000, "00", "71000013"), VNPAY_SECRET))? == "02",
        "new txn no"
    );
    let cancel = vnpay_query(&vnpay_params(r, 15_000_000, "24", "71000014"), VNPAY_SECRET);
    ensure!(matches!(vnpay_ipn(p, &cancel)?.as_str(), "02" | "00"), "cancellation after settlement");
    let v = order_as_admin(p, id)?;
    ensure!(v["state"] == "paid" && v["provider_txn_id"] == "71000011", "settled once, by the first: {v}");
    let settled = outcomes(&v).iter().filter(|o| *o == "settled").count();
    ensure!(settled == 1, "settled {settled} times: {:?}", outcomes(&v));
    ensure!(outcomes(&v).iter().filter(|o| *o == "bad_signature").count() >= 6, "forgeries stored: {:?}", outcomes(&v));
    Ok(())
}

/// MoMo: a genuine signature moved onto another order's body, or over another amount, is
/// refused; a settled IPN replayed (also with a new transId) is acknowledged and settles once.
pub(super) fn momo_forgeries_and_replays_settle_once(s: &Servers) -> Result<(), String> {
    let code = payable(s, 12)?;
    let p = s.payments;
    let post = |body: &str| post_json(p, "/payments/momo/ipn", body);
    let a = create_order(p, &code, "momo", "sec-momo-a")?;
    let b = create_order(p, &code, "momo", "sec-momo-b")?;
    let (ra, rb) = (a["txn_ref"].as_str().unwrap_or_default(), b["txn_ref"].as_str().unwrap_or_default());
    let genuine: Value =
        serde_json::from_str(&momo_body(ra, 150_000, 0, 72_000_012, MOMO_SECRET_KEY)).map_err(|e| e.to_string())?;
    let mut moved = serde_json::from_str::<Value>(&momo_body(rb, 150_000, 0, 72_000_012, MOMO_SECRET_KEY))
        .map_err(|e| e.to_string())?;
    moved["signature"] = genuine["signature"].clone();
    is_problem(&post(&moved.to_string())?, 401)?;
    let mut cheaper = genuine.clone();
    cheaper["amount"] = json!(1_000);
    is_problem(&post(&cheaper.to_string())?, 401)?;
    let mut failed_to_ok = serde_json::from_str::<Value>(&momo_body(ra, 150_000, 1006, 72_000_012, MOMO_SECRET_KEY))
        .map_err(|e| e.to_string())?;
    failed_to_ok["resultCode"] = json!(0);
    is_problem(&post(&failed_to_ok.to_string())?, 401)?;
    let mut unsigned = genuine.clone();
    if let Some(o) = unsigned.as_object_mut() {
        o.remove("signature");
    }
    let r = post(&unsigned.to_string())?;
    ensure!(r.status == 401 || r.status == 400, "unsigned: {} {}", r.status, String::from_utf8_lossy(&r.body));
    ensure!(order_as_admin(p, a["order_id"].as_str().unwrap_or_default())?["state"] == "pending", "forgeries settled");
    ensure!(order_as_admin(p, b["order_id"].as_str().unwrap_or_default())?["state"] == "pending", "forgeries settled");
    for trans in [72_000_012, 72_000_012, 72_000_013] {
        let r = post(&momo_body(ra, 150_000, 0, trans, MOMO_SECRET_KEY))?;
        ensure!(r.status == 204, "momo: {} {}", r.status, String::from_utf8_lossy(&r.body));
    }
    let v = order_as_admin(p, a["order_id"].as_str().unwrap_or_default())?;
    let settled = outcomes(&v).iter().filter(|o| *o == "settled").count();
    ensure!(v["state"] == "paid" && v["provider_txn_id"] == "72000012" && settled == 1, "settled once: {v}");
    Ok(())
}

/// ZaloPay: a MAC made with key1 (the request key), a MAC of other data, a missing MAC are
/// refused (-1); a replay answers 2 and settles once.
pub(super) fn zalopay_forgeries_and_replays_settle_once(s: &Servers) -> Result<(), String> {
    let code = payable(s, 13)?;
    let p = s.payments;
    let o = create_order(p, &code, "zalopay", "sec-zalopay")?;
    let r = o["txn_ref"].as_str().unwrap_or_default();
    let answer = |body: &str| -> Result<Value, String> {
        let resp = post_json(p, "/payments/zalopay/callback", body)?;
        ensure!(resp.status == 200, "zalopay: {} {}", resp.status, String::from_utf8_lossy(&resp.body));
        Ok(resp.json()?["return_code"].clone())
    };
    ensure!(answer(&zalopay_body(r, 150_000, 241_122_000_000_013, ZALOPAY_KEY1))? == -1, "key1");
    let genuine: Value = serde_json::from_str(&zalopay_body(r, 150_000, 241_122_000_000_013, ZALOPAY_KEY2))
        .map_err(|e| e.to_string())?;
    let mut other: Value =
        serde_json::from_str(&zalopay_body(r, 1_000, 241_122_000_000_013, ZALOPAY_KEY2)).map_err(|e| e.to_string())?;
    other["mac"] = genuine["mac"].clone();
    ensure!(answer(&other.to_string())? == -1, "mac of other data");
    let mut spaced = genuine.clone();
    spaced["data"] = json!(format!("{} ", genuine["data"].as_str().unwrap_or_default()));
    ensure!(answer(&spaced.to_string())? == -1, "data changed by one space");
    let mut unsigned = genuine.clone();
    unsigned["mac"] = json!("");
    ensure!(answer(&unsigned.to_string())? == -1, "empty mac");
    ensure!(order_as_admin(p, o["order_id"].as_str().unwrap_or_default())?["state"] == "pending", "forgeries settled");
    ensure!(answer(&genuine.to_string())? == 1, "settles");
    ensure!(answer(&genuine.to_string())? == 2, "replay");
    ensure!(answer(&zalopay_body(r, 150_000, 241_122_000_000_014, ZALOPAY_KEY2))? == 2, "replay, new zp_trans_id");
    let v = order_as_admin(p, o["order_id"].as_str().unwrap_or_default())?;
    let settled = outcomes(&v).iter().filter(|o| *o == "settled").count();
    ensure!(v["state"] == "paid" && settled == 1, "settled once: {v}");
    Ok(())
}

/// Every SMS webhook: no, wrong, moved and truncated signatures are 401 problem+json; a
/// redelivered message id gets its first reply (and report-submission files it once).
pub(super) fn sms_webhooks_refuse_forgeries_and_answer_redelivery_once(s: &Servers) -> Result<(), String> {
    let stamp = unix_now();
    for (path, text) in
        [("/food-safety/sms", "ATTP pho"), ("/permits/sms", "HS 123"), ("/reports/sms", "TT PA-000101-0001")]
    {
        let server = s.owner(path)?;
        let body =
            json!({"id": format!("sec-forged-{stamp}"), "from": "84905123456", "to": "8188", "text": text}).to_string();
        let genuine = sign(SMS_SECRET, body.as_bytes());
        let other = sign(SMS_SECRET, body.replace("8188", "8189").as_bytes());
        let forgeries: [(&str, Vec<(&str, String)>); 7] = [
            ("none", vec![]),
            ("empty", vec![("x-signature", String::new())]),
            ("wrong secret", vec![("x-signature", sign("not-the-secret", body.as_bytes()))]),
            ("another body's", vec![("x-signature", other)]),
            ("truncated", vec![("x-signature", genuine[..32].to_owned())]),
            ("SHA-512", vec![("x-signature", sign512(SMS_SECRET, body.as_bytes()))]),
            ("in another header", vec![("x-hub-signature", genuine.clone())]),
        ];
        for (name, headers) in forgeries {
            let mut h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            h.push(("content-type", "application/json"));
            let r = request(&server.addr, "POST", path, &h, body.as_bytes())?;
            is_problem(&r, 401).map_err(|e| format!("{path}, {name}: {e}"))?;
        }
    }
    // report-submission: a PA redelivered (same id, other text) files once.
    crate::reports::set_catalogue(s.reports)?;
    let id = format!("sec-pa-{stamp}");
    let reply = |id: &str, text: &str| -> Result<String, String> {
        let r = send_sms_from(s.reports, "/reports/sms", id, "84905444555", text)?;
        ensure!(r.status == 200, "sms: {} {}", r.status, String::from_utf8_lossy(&r.body));
        Ok(r.json()?["reply"].as_str().unwrap_or_default().to_owned())
    };
    let first = reply(&id, "PA Rác đổ trộm ở kiệt bảo mật số một")?;
    let again = reply(&id, "PA Một phản ánh khác hẳn")?;
    ensure!(first == again && first.starts_with("Da nhan phan anh PA-"), "redelivery: {first} / {again}");
    let code = first.split_whitespace().nth(4).unwrap_or_default().trim_end_matches(',').to_owned();
    let v = get(&s.reports.addr, &format!("/reports/{code}"))?.json()?;
    ensure!(v["description"].as_str().is_some_and(|d| d.contains("bảo mật số một")), "first text stored: {v}");
    // food-safety and permit-status: the same.
    let food = send_sms(s.food, "/food-safety/sms", &format!("sec-attp-{stamp}"), "ATTP quán bảo mật")?;
    let food_again = send_sms(s.food, "/food-safety/sms", &format!("sec-attp-{stamp}"), "xin chao")?;
    ensure!(food.status == 200 && food.json()? == food_again.json()?, "food-safety redelivery");
    Ok(())
}
