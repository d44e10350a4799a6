//! payment-callback over HTTP, each check run against both runtimes, with signatures made
//! here, independently of the function's code: VNPay's sorted, form-urlencoded HMAC-SHA512,
//! MoMo's ordered HMAC-SHA256 string, ZaloPay's key2 MAC over the data string. Every check
//! pays for dossiers of its own (seeded into permit-status's database), so checks can share
//! a runtime in parallel.

use std::sync::{Arc, Barrier};

use serde_json::{Value, json};

use crate::harness::{
    Check, MOMO_ACCESS_KEY, MOMO_PARTNER, MOMO_SECRET_KEY, Resp, Server, Suite, VNPAY_SECRET, VNPAY_TMN_CODE,
    ZALOPAY_APP_ID, ZALOPAY_KEY2, bearer, bearer_with, get, is_problem, post_json, request, request_declaring, sign,
    sign512, unix_now,
};

pub const SUITE: Suite = Suite {
    base: "/payments",
    function: "payment-callback",
    databases: &["payments", "permits"],
    seed: SEED,
    checks: CHECKS,
    same_answers,
};

/// Dossiers in permit-status's database for these checks (and the notifications' 0014 and
/// 0015): fee 150,000 đ, and 0010 free.
const SEED: &[(&str, &str)] = &[(
    "permits",
    "INSERT INTO dossiers (code, procedure_code, procedure_name, field, agency, applicant_name, applicant_phone,
         applicant_kind, received_at, due_at, status, status_at, result_at, fee_vnd, updated_at)
     SELECT '000.98.19.H57-241105-' || printf('%04d', value), '1.001234', 'Cấp giấy phép xây dựng', 'Xây dựng',
         'UBND quận Hải Châu', 'Nguyễn Văn An', '0905123456', 'citizen', '2024-11-05T01:30:00Z',
         '2024-11-15T10:00:00Z', 6, '2024-11-06T02:00:00Z', NULL, CASE value WHEN 10 THEN 0 ELSE 150000 END,
         '2024-11-06T02:00:00Z'
     FROM (WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 16) SELECT value FROM n)",
)];

pub fn code(n: u32) -> String {
    format!("000.98.19.H57-241105-{n:04}")
}

/// A citizen's token; `who` is the JWT `sub`.
fn citizen(who: &str) -> String {
    bearer_with(&json!({"sub": who}))
}

pub fn create_order(s: &Server, dossier: &str, provider: &str, who: &str) -> Result<Value, String> {
    let body = json!({"dossier_code": dossier, "provider": provider}).to_string();
    let headers = [("authorization", citizen(who)), ("content-type", "application/json".into())];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = request(&s.addr, "POST", "/payments/orders", &headers, body.as_bytes())?;
    ensure!(r.status == 201, "order for {dossier}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    r.json()
}

/// Form-urlencoding as VNPay's reference code: letters, digits and `-._*` kept, space `+`,
/// every other byte `%XX` (the WHATWG form serializer, byte for byte).
fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The signed query string of an IPN.
pub fn vnpay_query(params: &[(&str, String)], secret: &str) -> String {
    let mut sorted: Vec<&(&str, String)> = params.iter().collect();
    sorted.sort_by_key(|(k, _)| *k);
    let data: Vec<String> = sorted.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect();
    let data = data.join("&");
    format!("{data}&vnp_SecureHashType=HmacSHA512&vnp_SecureHash={}", sign512(secret, data.as_bytes()))
}

pub fn vnpay_params(txn_ref: &str, amount_x100: i64, response: &str, txn_no: &str) -> Vec<(&'static str, String)> {
    vec![
        ("vnp_TmnCode", VNPAY_TMN_CODE.to_owned()),
        ("vnp_Amount", amount_x100.to_string()),
        ("vnp_BankCode", "NCB".to_owned()),
        ("vnp_BankTranNo", "VNP14422574".to_owned()),
        ("vnp_CardType", "ATM".to_owned()),
        ("vnp_PayDate", "20241122153000".to_owned()),
        ("vnp_OrderInfo", "Thanh toan le phi ho so".to_owned()),
        ("vnp_TransactionNo", txn_no.to_owned()),
        ("vnp_ResponseCode", response.to_owned()),
        ("vnp_TransactionStatus", response.to_owned()),
        ("vnp_TxnRef", txn_ref.to_owned()),
    ]
}

fn rsp_code(r: &Resp) -> Result<String, String> {
    ensure!(r.status == 200, "IPN answered {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(r.json()?["RspCode"].as_str().unwrap_or_default().to_owned())
}

pub fn vnpay_ipn(s: &Server, query: &str) -> Result<String, String> {
    rsp_code(&get(&s.addr, &format!("/payments/vnpay/ipn?{query}"))?)
}

pub fn momo_body(order: &str, amount: i64, result: i64, trans_id: i64, secret: &str) -> String {
    let raw = format!(
        "accessKey={MOMO_ACCESS_KEY}&amount={amount}&extraData=&message=Thành công.&orderId={order}\
         &orderInfo=Le phi ho so&orderType=momo_wallet&partnerCode={MOMO_PARTNER}&payType=qr&requestId={order}\
         &responseTime=1732264200000&resultCode={result}&transId={trans_id}"
    );
    json!({"partnerCode": MOMO_PARTNER, "orderId": order, "requestId": order, "amount": amount,
        "orderInfo": "Le phi ho so", "orderType": "momo_wallet", "transId": trans_id, "resultCode": result,
        "message": "Thành công.", "payType": "qr", "responseTime": 1_732_264_200_000i64, "extraData": "",
        "signature": sign(secret, raw.as_bytes())})
    .to_string()
}

pub fn zalopay_body(txn_ref: &str, amount: i64, zp_trans_id: i64, key2: &str) -> String {
    let data = format!(
        r#"{{"app_id":{ZALOPAY_APP_ID},"app_trans_id":"{txn_ref}","app_time":1732264200000,"app_user":"e2e","amount":{amount},"embed_data":"{{}}","item":"[]","zp_trans_id":{zp_trans_id},"server_time":1732264260000,"channel":38,"merchant_user_id":"e2e","user_fee_amount":0,"discount_amount":0}}"#
    );
    json!({"data": data, "mac": sign(key2, data.as_bytes()), "type": 1}).to_string()
}

pub fn order_as_admin(s: &Server, order_id: &str) -> Result<Value, String> {
    let r = request(
        &s.addr,
        "GET",
        &format!("/payments/orders/{order_id}"),
        &[("authorization", &bearer(&["admin"]))],
        b"",
    )?;
    ensure!(r.status == 200, "GET order: {} {}", r.status, String::from_utf8_lossy(&r.body));
    r.json()
}

fn orders_are_priced_from_the_dossier(s: &Server) -> Result<(), String> {
    let body = json!({"dossier_code": code(1), "provider": "vnpay"}).to_string();
    is_problem(&post_json(s, "/payments/orders", &body)?, 401)?;
    let o = create_order(s, &code(1), "vnpay", "e2e-orders")?;
    ensure!(o["amount_vnd"] == 150_000 && o["state"] == "pending", "order {o}");
    let url = o["payment_url"].as_str().unwrap_or_default();
    let (base, query) = url.split_once('?').ok_or(format!("payment_url {url}"))?;
    ensure!(base == "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html", "pay url {base}");
    let (data, hash) = query.rsplit_once("&vnp_SecureHash=").ok_or(format!("unsigned: {url}"))?;
    ensure!(hash == sign512(VNPAY_SECRET, data.as_bytes()), "vnp_SecureHash does not verify: {url}");
    for part in ["vnp_Amount=15000000", "vnp_Command=pay", "vnp_CurrCode=VND", "vnp_Version=2.1.0"] {
        ensure!(data.contains(part), "{part} missing: {data}");
    }
    ensure!(data.contains(&format!("vnp_TmnCode={VNPAY_TMN_CODE}")), "tmn code: {data}");
    let free = json!({"dossier_code": code(10), "provider": "momo"}).to_string();
    let auth = citizen("e2e-orders");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    is_problem(&request(&s.addr, "POST", "/payments/orders", &headers, free.as_bytes())?, 409)?;
    for (provider, prefix) in [
        ("momo", "https://test-payment.momo.vn/v2/gateway/pay?t="),
        ("zalopay", "https://qcgateway.zalopay.vn/openinapp?order="),
    ] {
        let w = create_order(s, &code(12), provider, "e2e-orders")?;
        let want = format!("{prefix}{}", w["txn_ref"].as_str().unwrap_or_default());
        ensure!(w["payment_url"] == want.as_str(), "{provider}: the wallet's URL, got {}", w["payment_url"]);
    }
    let set_amount = json!({"dossier_code": code(1), "provider": "momo", "amount_vnd": 1000}).to_string();
    is_problem(&request(&s.addr, "POST", "/payments/orders", &headers, set_amount.as_bytes())?, 422)?;
    let path = format!("/payments/orders/{}", o["order_id"].as_str().unwrap_or_default());
    ensure!(request(&s.addr, "GET", &path, &headers, b"")?.json()?["order_id"] == o["order_id"], "the owner sees it");
    is_problem(&request(&s.addr, "GET", &path, &[("authorization", &citizen("someone-else"))], b"")?, 404)?;
    Ok(())
}

fn vnpay_ipn_gives_the_documented_codes(s: &Server) -> Result<(), String> {
    let o = create_order(s, &code(2), "vnpay", "e2e-vnpay")?;
    let r = o["txn_ref"].as_str().unwrap_or_default();
    let good = vnpay_query(&vnpay_params(r, 15_000_000, "00", "14422574"), VNPAY_SECRET);
    let tampered = good.replacen("vnp_Amount=15000000", "vnp_Amount=15000001", 1);
    ensure!(vnpay_ipn(s, &tampered)? == "97", "one byte changed");
    ensure!(vnpay_ipn(s, &vnpay_query(&vnpay_params(r, 15_000_000, "00", "1"), "not-the-secret"))? == "97", "forged");
    let unknown = vnpay_query(&vnpay_params("241122_000000000000", 15_000_000, "00", "1"), VNPAY_SECRET);
    ensure!(vnpay_ipn(s, &unknown)? == "01", "unknown txn_ref");
    let wrong = vnpay_query(&vnpay_params(r, 1_500_000, "00", "1"), VNPAY_SECRET);
    ensure!(vnpay_ipn(s, &wrong)? == "04", "wrong amount");
    ensure!(order_as_admin(s, o["order_id"].as_str().unwrap_or_default())?["state"] == "pending", "nothing changed");
    ensure!(vnpay_ipn(s, &good)? == "00", "confirmed");
    ensure!(vnpay_ipn(s, &good)? == "02", "replayed");
    let v = order_as_admin(s, o["order_id"].as_str().unwrap_or_default())?;
    ensure!(v["state"] == "paid" && v["provider_txn_id"] == "14422574", "settled: {v}");
    let outcomes: Vec<&str> =
        v["callbacks"].as_array().map(|c| c.iter().filter_map(|c| c["outcome"].as_str()).collect()).unwrap_or_default();
    ensure!(
        outcomes == ["bad_signature", "bad_signature", "amount_mismatch", "settled", "already_settled"],
        "{outcomes:?}"
    );
    Ok(())
}

fn momo_ipn_settles_with_204(s: &Server) -> Result<(), String> {
    let o = create_order(s, &code(3), "momo", "e2e-momo")?;
    let r = o["txn_ref"].as_str().unwrap_or_default();
    is_problem(&post_json(s, "/payments/momo/ipn", &momo_body(r, 150_000, 0, 4_088_878_653, "forged"))?, 401)?;
    for (order, amount) in [(r, 149_000), ("241122_000000000000", 150_000)] {
        let resp = post_json(s, "/payments/momo/ipn", &momo_body(order, amount, 0, 4_088_878_600, MOMO_SECRET_KEY))?;
        ensure!(resp.status == 204, "wrong amount or unknown order: stored and acknowledged, got {}", resp.status);
    }
    let pending = order_as_admin(s, o["order_id"].as_str().unwrap_or_default())?;
    ensure!(pending["state"] == "pending", "a wrong amount changes nothing: {pending}");
    for _ in 0..2 {
        let resp = post_json(s, "/payments/momo/ipn", &momo_body(r, 150_000, 0, 4_088_878_653, MOMO_SECRET_KEY))?;
        ensure!(resp.status == 204 && resp.body.is_empty(), "momo: {} {:?}", resp.status, resp.body);
    }
    let v = order_as_admin(s, o["order_id"].as_str().unwrap_or_default())?;
    ensure!(v["state"] == "paid", "momo settled: {v}");
    let big = vec![b' '; 17 * 1024];
    is_problem(&request(&s.addr, "POST", "/payments/momo/ipn", &[], &big)?, 413)?;
    is_problem(&request_declaring(&s.addr, "POST", "/payments/zalopay/callback", 1 << 20, &[])?, 413)?;
    Ok(())
}

fn zalopay_callback_answers_its_codes(s: &Server) -> Result<(), String> {
    let o = create_order(s, &code(4), "zalopay", "e2e-zalopay")?;
    let r = o["txn_ref"].as_str().unwrap_or_default();
    let answer = |body: String| -> Result<Value, String> {
        let resp = post_json(s, "/payments/zalopay/callback", &body)?;
        ensure!(resp.status == 200, "zalopay: {}", resp.status);
        Ok(resp.json()?["return_code"].clone())
    };
    ensure!(answer(zalopay_body(r, 150_000, 241_122_000_000_004, "forged-key"))? == -1, "bad mac");
    ensure!(answer(zalopay_body(r, 150_001, 241_122_000_000_004, ZALOPAY_KEY2))? == 0, "wrong amount");
    ensure!(answer(zalopay_body(r, 150_000, 241_122_000_000_004, ZALOPAY_KEY2))? == 1, "settled");
    ensure!(answer(zalopay_body(r, 150_000, 241_122_000_000_004, ZALOPAY_KEY2))? == 2, "already settled");
    Ok(())
}

/// Fifty identical callbacks at once, per partner: one settles, all are stored.
fn fifty_concurrent_duplicates_settle_once(s: &Server) -> Result<(), String> {
    const N: usize = 50;
    for (n, provider) in [(5, "vnpay"), (6, "momo"), (7, "zalopay")] {
        let o = create_order(s, &code(n), provider, "e2e-storm")?;
        let r = o["txn_ref"].as_str().unwrap_or_default().to_owned();
        let (method, path, body) = match provider {
            "vnpay" => {
                let q = vnpay_query(&vnpay_params(&r, 15_000_000, "00", "99000001"), VNPAY_SECRET);
                ("GET", format!("/payments/vnpay/ipn?{q}"), String::new())
            }
            "momo" => ("POST", "/payments/momo/ipn".to_owned(), momo_body(&r, 150_000, 0, 99_000_002, MOMO_SECRET_KEY)),
            _ => (
                "POST",
                "/payments/zalopay/callback".to_owned(),
                zalopay_body(&r, 150_000, 241_122_000_000_007, ZALOPAY_KEY2),
            ),
        };
        let barrier = Arc::new(Barrier::new(N));
        let threads: Vec<_> = (0..N)
            .map(|_| {
                let (barrier, addr, path, body) = (barrier.clone(), s.addr.clone(), path.clone(), body.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    request(&addr, method, &path, &[("content-type", "application/json")], body.as_bytes())
                })
            })
            .collect();
        let mut answers = Vec::new();
        for t in threads {
            let resp = t.join().map_err(|_| "a client thread panicked".to_owned())??;
            answers.push(match provider {
                "vnpay" => rsp_code(&resp)?,
                "momo" => resp.status.to_string(),
                _ => resp.json()?["return_code"].to_string(),
            });
        }
        let (first, again) = match provider {
            "vnpay" => ("00", "02"),
            "momo" => ("204", "204"),
            _ => ("1", "2"),
        };
        let firsts = answers.iter().filter(|a| *a == first).count();
        let agains = answers.iter().filter(|a| *a == again).count();
        ensure!((first == again && firsts == N) || (firsts == 1 && agains == N - 1), "{provider}: answers {answers:?}");
        let v = order_as_admin(s, o["order_id"].as_str().unwrap_or_default())?;
        let callbacks = v["callbacks"].as_array().cloned().unwrap_or_default();
        let settled = callbacks.iter().filter(|c| c["outcome"] == "settled").count();
        let already = callbacks.iter().filter(|c| c["outcome"] == "already_settled").count();
        ensure!(
            v["state"] == "paid" && callbacks.len() == N && settled == 1 && already == N - 1,
            "{provider}: state {}, {} callbacks stored, {settled} settled, {already} already settled",
            v["state"],
            callbacks.len()
        );
    }
    Ok(())
}

fn reconciliation_lists_the_day(s: &Server) -> Result<(), String> {
    let o = create_order(s, &code(8), "vnpay", "e2e-recon")?;
    let r = o["txn_ref"].as_str().unwrap_or_default();
    ensure!(vnpay_ipn(s, &vnpay_query(&vnpay_params(r, 15_000_000, "00", "88000008"), VNPAY_SECRET))? == "00", "pay");
    let now = unix_now() + 7 * 3600;
    let day = chrono::DateTime::from_timestamp(now, 0).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let admin = bearer(&["admin"]);
    let path = format!("/payments/reconciliation?date={day}");
    let v = request(&s.addr, "GET", &path, &[("authorization", &admin)], b"")?.json()?;
    let listed = v["orders"].as_array().is_some_and(|l| l.iter().any(|x| x["order_id"] == o["order_id"]));
    ensure!(listed && v["date"] == day.as_str(), "the order settled today is listed: {v}");
    let vnpay = v["providers"].as_array().and_then(|p| p.iter().find(|p| p["provider"] == "vnpay").cloned());
    ensure!(vnpay.is_some_and(|p| p["count"].as_i64() >= Some(1)), "per-provider totals: {v}");
    let csv = request(&s.addr, "GET", &path, &[("authorization", &admin), ("accept", "text/csv")], b"")?;
    let text = String::from_utf8_lossy(&csv.body);
    ensure!(csv.header("content-type") == Some("text/csv; charset=utf-8"), "csv type {:?}", csv.header("content-type"));
    ensure!(
        text.starts_with("kind,provider,order_id,") && text.contains("88000008") && text.contains("\r\ntotal,vnpay,"),
        "{text}"
    );
    is_problem(&request(&s.addr, "GET", &path, &[("authorization", &citizen("e2e-recon"))], b"")?, 403)?;
    Ok(())
}

const CHECKS: &[(&str, Check)] = &[
    ("orders_are_priced_from_the_dossier", orders_are_priced_from_the_dossier),
    ("vnpay_ipn_gives_the_documented_codes", vnpay_ipn_gives_the_documented_codes),
    ("momo_ipn_settles_with_204", momo_ipn_settles_with_204),
    ("zalopay_callback_answers_its_codes", zalopay_callback_answers_its_codes),
    ("fifty_concurrent_duplicates_settle_once", fifty_concurrent_duplicates_settle_once),
    ("reconciliation_lists_the_day", reconciliation_lists_the_day),
];

/// A settled order shows as a paid fee in permit-status: `payments` is one database for both
/// functions (one label on Spin, one D1 database_id on Workers).
pub fn fee_shows_as_paid_in_permit_status(payments: &Server, permits: &Server) -> Result<(), String> {
    let c = code(9);
    let fee_paid =
        || -> Result<Value, String> { Ok(get(&permits.addr, &format!("/permits/{c}"))?.json()?["fee_paid"].clone()) };
    ensure!(fee_paid()? == false, "unpaid at first");
    let o = create_order(payments, &c, "vnpay", "e2e-cross")?;
    let r = o["txn_ref"].as_str().unwrap_or_default();
    ensure!(
        vnpay_ipn(payments, &vnpay_query(&vnpay_params(r, 15_000_000, "00", "99000009"), VNPAY_SECRET))? == "00",
        "pay"
    );
    ensure!(fee_paid()? == true, "permit-status shows the fee paid");
    Ok(())
}

/// The same callbacks give the same answers on both runtimes.
fn same_answers(spin: &Server, workers: &Server) -> Result<(), String> {
    let mut answers = Vec::new();
    for s in [spin, workers] {
        let o = create_order(s, &code(11), "vnpay", "e2e-parity")?;
        let r = o["txn_ref"].as_str().unwrap_or_default().to_owned();
        let mut seen = vec![o["amount_vnd"].clone(), o["state"].clone()];
        for (amount, secret) in
            [(15_000_000, "forged"), (1, VNPAY_SECRET), (15_000_000, VNPAY_SECRET), (15_000_000, VNPAY_SECRET)]
        {
            let q = vnpay_query(&vnpay_params(&r, amount, "00", "99000011"), secret);
            seen.push(get(&s.addr, &format!("/payments/vnpay/ipn?{q}"))?.json()?);
        }
        seen.push(
            post_json(s, "/payments/zalopay/callback", &zalopay_body(&r, 150_000, 241_122_000_000_011, "forged"))?
                .json()?,
        );
        seen.push(json!(post_json(s, "/payments/momo/ipn", &momo_body(&r, 150_000, 0, 1, "forged"))?.status));
        answers.push(seen);
    }
    ensure!(answers[0] == answers[1], "spin {:?} / workers {:?}", answers[0], answers[1]);
    Ok(())
}
