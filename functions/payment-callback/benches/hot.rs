//! The hot pure functions of payment-callback: verifying each partner's signature and
//! signing a VNPay payment URL. `cargo bench -p payment-callback` prints figures; nothing
//! here passes or fails.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use payment_callback::{momo, vnpay, zalopay};
use serde_json::json;

fn hot(c: &mut Criterion) {
    let mut ipn: Vec<(String, String)> = [
        ("vnp_TmnCode", "DEMOV210"),
        ("vnp_Amount", "15000000"),
        ("vnp_BankCode", "NCB"),
        ("vnp_BankTranNo", "VNP14422574"),
        ("vnp_CardType", "ATM"),
        ("vnp_OrderInfo", "Thanh toan le phi ho so 000.00.19.H57-241105-0012"),
        ("vnp_PayDate", "20241122091500"),
        ("vnp_ResponseCode", "00"),
        ("vnp_TransactionNo", "14422574"),
        ("vnp_TransactionStatus", "00"),
        ("vnp_TxnRef", "241122_0A1B2C3D4E5F"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let hash = vnpay::secure_hash("SECRET", &ipn);
    ipn.push(("vnp_SecureHash".into(), hash));
    c.bench_function("vnpay verify IPN", |b| b.iter(|| vnpay::verify("SECRET", black_box(&ipn))));

    let mut body = json!({"partnerCode": "MOMO", "orderId": "241122_0A1B2C3D4E5F", "requestId": "241122_0A1B2C3D4E5F",
        "amount": 150000, "orderInfo": "Le phi ho so", "orderType": "momo_wallet", "transId": 4088878653u64,
        "resultCode": 0, "message": "Thành công.", "payType": "qr", "responseTime": 1732240800000u64, "extraData": ""});
    let sig = civic::auth::hmac_sha256_hex(b"secret", momo::signed_string("access", &body).as_bytes());
    body["signature"] = json!(sig);
    let body = body.to_string();
    c.bench_function("momo verify IPN", |b| b.iter(|| momo::verify("access", "secret", black_box(&body))));

    let data = r#"{"app_id":2553,"app_trans_id":"241122_0A1B2C3D4E5F","app_time":1732240800000,"app_user":"u","amount":150000,"embed_data":"{}","item":"[]","zp_trans_id":241122000000123,"server_time":1732240860000,"channel":38,"merchant_user_id":"u","user_fee_amount":0,"discount_amount":0}"#;
    let mac = civic::auth::hmac_sha256_hex(b"key2", data.as_bytes());
    c.bench_function("zalopay verify callback", |b| b.iter(|| zalopay::verify("key2", black_box(data), &mac)));

    let settings = vnpay::Settings {
        tmn_code: "DEMOV210".into(),
        hash_secret: "SECRET".into(),
        pay_url: "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html".into(),
        return_url: "https://dichvucong.example.vn/thanh-toan/ket-qua".into(),
    };
    let created = "2024-11-22T02:00:00Z".parse().expect("time");
    let request = vnpay::PayRequest {
        txn_ref: "241122_0A1B2C3D4E5F",
        amount_vnd: 150_000,
        order_info: "Thanh toan le phi ho so 000.00.19.H57-241105-0012",
        created,
        expires: created + vnpay::EXPIRY,
        ip: "203.0.113.7",
        locale: "vn",
    };
    c.bench_function("vnpay payment url", |b| b.iter(|| vnpay::payment_url(&settings, black_box(&request))));
}

criterion_group!(benches, hot);
criterion_main!(benches);
