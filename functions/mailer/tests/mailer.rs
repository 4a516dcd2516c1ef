//! The mailer through its real handler, fed SQS batches as Lambda's event source mapping sends
//! them, against the local DynamoDB and SES (moto) `make test` starts; mail is read back from
//! what the local SES "sent".

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Context, LambdaEvent};
use mailer::Mailer;
use serde_json::{Value, json};
use shared::AppState;
use shared::codes::Purpose;
use shared::mail::{MailJob, Notice};
use shared::recovery::{Presented, unlock};
use shared::testing::{
    ServiceLog, new_user, refused_endpoint, sdk_config, sent_mail, state, state_with, unique_email,
};

/// A mailer over `app`, its SES calls recorded, at `ses_endpoint` (the local SES by default).
async fn mailer_over(app: AppState, ses_endpoint: Option<&str>) -> Mailer {
    let sdk = sdk_config().await;
    let mut config = aws_sdk_sesv2::config::Builder::from(&sdk).interceptor(ServiceLog);
    if let Some(endpoint) = ses_endpoint {
        config = config.endpoint_url(endpoint);
    }
    Mailer::new(app, aws_sdk_sesv2::Client::from_conf(config.build()))
}

fn batch(records: &[(&str, String)]) -> LambdaEvent<SqsEvent> {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, body)| {
            json!({"messageId": id, "receiptHandle": format!("handle-{id}"), "body": body,
                   "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                   "md5OfBody": "", "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:mail",
                   "awsRegion": "us-east-1"})
        })
        .collect();
    let event = serde_json::from_value(json!({"Records": records})).expect("an SQS event");
    LambdaEvent::new(event, Context::default())
}

fn job(job: &MailJob) -> String {
    serde_json::to_string(job).expect("serialises")
}

async fn deliver(mailer: &Mailer, records: &[(&str, String)]) -> Vec<String> {
    let SqsBatchResponse {
        batch_item_failures,
        ..
    } = mailer::handler(mailer, batch(records))
        .await
        .expect("never an invocation error");
    batch_item_failures
        .into_iter()
        .map(|failure| failure.item_identifier)
        .collect()
}

#[tokio::test]
async fn a_verification_mail_carries_a_link_and_a_code_that_each_prove_the_address() {
    let mailer = mailer_over(state().await, None).await;
    let app = state().await;
    let user = new_user(&app, "mailer-verify").await;
    let address = user.email.as_str().to_owned();
    let verify = MailJob::VerifyEmail {
        user_id: user.id,
        address: address.clone(),
    };

    assert_eq!(
        deliver(&mailer, &[("m1", job(&verify))]).await,
        Vec::<String>::new()
    );

    let mail = sent_mail(&address).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let mail = &mail[0];
    assert_eq!(mail.from, "no-reply@example.com");
    assert_eq!(mail.subject, "Confirm your email address for Accounts");
    let link = mail.link().expect("a link");
    assert!(
        link.starts_with("http://localhost:3000/verify#token="),
        "{link}"
    );
    assert!(mail.body.contains("24 hours"), "{}", mail.body);
    let code = mail.code().expect("a code");
    let by_code = Presented::Code {
        email: address.clone(),
        code: code.into(),
    };
    let by_link = Presented::Token(mail.token().expect("a token").into());
    for presented in [by_code, by_link] {
        let unlocked = unlock(&app, &presented, &[Purpose::Verify])
            .await
            .expect("proves it");
        assert_eq!(unlocked.user.id, user.id);
    }
}

#[tokio::test]
async fn a_poisoned_record_fails_alone() {
    let mailer = mailer_over(state().await, None).await;
    let app = state().await;
    let user = new_user(&app, "mailer-poison").await;
    let notice_to = unique_email("mailer-poison-notice");
    let records = [
        (
            "good-1",
            job(&MailJob::VerifyEmail {
                user_id: user.id,
                address: user.email.as_str().to_owned(),
            }),
        ),
        ("poison", "{\"kind\": \"launch_missiles\"}".to_owned()),
        (
            "good-2",
            job(&MailJob::Notice {
                address: notice_to.clone(),
                notice: Notice::SignUpAttempt,
            }),
        ),
    ];

    assert_eq!(deliver(&mailer, &records).await, vec!["poison".to_owned()]);

    assert_eq!(sent_mail(user.email.as_str()).await.len(), 1);
    let notice = sent_mail(&notice_to).await;
    assert_eq!(notice.len(), 1);
    assert!(
        notice[0].subject.contains("tried to sign up"),
        "{:?}",
        notice[0]
    );
    assert_eq!(notice[0].code(), None, "a notice carries no code");
}

#[tokio::test]
async fn nothing_is_sent_to_an_address_without_an_account_or_for_mail_no_longer_due() {
    let mailer = mailer_over(state().await, None).await;
    let app = state().await;
    let nobody = unique_email("mailer-nobody");
    let user = new_user(&app, "mailer-moved").await;
    let stale = unique_email("mailer-stale");
    let records = [
        (
            "reset",
            job(&MailJob::ResetPassword {
                address: nobody.clone(),
            }),
        ),
        // The account's address is not (or no longer) this one; no change is pending.
        (
            "verify",
            job(&MailJob::VerifyEmail {
                user_id: user.id,
                address: stale.clone(),
            }),
        ),
        (
            "change",
            job(&MailJob::ConfirmEmailChange {
                user_id: user.id,
                address: stale.clone(),
            }),
        ),
    ];
    assert_eq!(deliver(&mailer, &records).await, Vec::<String>::new());
    assert_eq!(sent_mail(&nobody).await, vec![]);
    assert_eq!(sent_mail(&stale).await, vec![]);
}

/// The same message delivered twice (SQS delivers at least once) sends twice, and only the
/// latest code lives.
#[tokio::test]
async fn a_duplicate_delivery_leaves_one_live_code() {
    let app = state_with(&[("MAIL_MIN_INTERVAL_SECONDS", "0")]).await;
    let user = new_user(&app, "mailer-duplicate").await;
    let address = user.email.as_str().to_owned();
    let mailer = mailer_over(app, None).await;
    let reset = job(&MailJob::ResetPassword {
        address: address.clone(),
    });

    deliver(&mailer, &[("same", reset.clone())]).await;
    deliver(&mailer, &[("same", reset)]).await;

    let mail = sent_mail(&address).await;
    assert_eq!(mail.len(), 2);
    let app = state().await;
    let live = |n: usize| {
        let presented = Presented::Code {
            email: address.clone(),
            code: mail[n].code().expect("a code").into(),
        };
        let app = &app;
        async move { unlock(app, &presented, &[Purpose::Reset]).await.is_ok() }
    };
    assert!(
        !live(0).await,
        "the first code died when the second was issued"
    );
    assert!(live(1).await);
}

#[tokio::test]
async fn sending_is_limited_per_address_and_kind() {
    let app = state_with(&[("MAIL_HOURLY_LIMIT", "2")]).await;
    let user = new_user(&app, "mailer-limit").await;
    let address = user.email.as_str().to_owned();
    let mailer = mailer_over(app, None).await;
    let verify = job(&MailJob::VerifyEmail {
        user_id: user.id,
        address: address.clone(),
    });
    let notice = |notice| {
        job(&MailJob::Notice {
            address: address.clone(),
            notice,
        })
    };

    for (id, body) in [
        ("first", verify.clone()),
        ("same kind within a minute", verify),
        ("another kind", notice(Notice::PasswordChanged)),
        (
            "over the hourly limit",
            notice(Notice::EmailChangeRequested),
        ),
    ] {
        assert_eq!(
            deliver(&mailer, &[(id, body)]).await,
            Vec::<String>::new(),
            "{id}"
        );
    }
    let subjects: Vec<String> = sent_mail(&address)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "Confirm your email address for Accounts",
            "Your Accounts password was changed"
        ]
    );
}

#[tokio::test]
async fn a_message_ses_refuses_for_good_is_dropped_not_retried() {
    // moto, as SES, refuses a sender that is not a verified identity (MessageRejected).
    let app = state_with(&[("MAIL_FROM", "unverified@nowhere.example")]).await;
    let to = unique_email("mailer-rejected");
    let mailer = mailer_over(app, None).await;
    let notice = job(&MailJob::Notice {
        address: to.clone(),
        notice: Notice::SignUpAttempt,
    });
    assert_eq!(
        deliver(&mailer, &[("rejected", notice)]).await,
        Vec::<String>::new()
    );
    assert_eq!(sent_mail(&to).await, vec![]);
}

/// SES unreachable: the message is retried, and the send-limit slot it took is given back, so
/// the retry sends at once.
#[tokio::test]
async fn a_failing_ses_is_retried_without_spending_the_send_limit() {
    let down = mailer_over(state().await, Some(&refused_endpoint().await)).await;
    let up = mailer_over(state().await, None).await;
    let to = unique_email("mailer-retry");
    let notice = job(&MailJob::Notice {
        address: to.clone(),
        notice: Notice::PasswordChanged,
    });

    assert_eq!(
        deliver(&down, &[("retry-me", notice.clone())]).await,
        vec!["retry-me".to_owned()]
    );
    assert_eq!(
        deliver(&up, &[("retry-me", notice)]).await,
        Vec::<String>::new()
    );
    assert_eq!(sent_mail(&to).await.len(), 1);
}
