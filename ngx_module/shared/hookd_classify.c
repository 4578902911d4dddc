/*
 * The rule set of docs/assist.md, "Classification". Two steps:
 *
 * 1. The provider: the source's, when it is one hookd verifies by name;
 *    otherwise the first fingerprint of hookd_providers whose clues all hold
 *    (keys a provider always sends, a prefix its ids carry); else "custom".
 *    A provider may imply a category (Stripe: billing), scored as a prior.
 * 2. The category: the event type's words, the payload's keys (three levels
 *    down, the first element of an array) and the values of a few naming
 *    keys (type, object, topic, …) are cut into words (at punctuation and
 *    camelCase, lower-cased, a plural's s dropped) and looked up in
 *    hookd_words (by hash); each distinct word scores once per place it was found,
 *    three times over in the type, twice in a naming value. The best score
 *    of at least HOOKD_CLASSIFY_MIN wins; a tie goes to the provider's
 *    category, else to "other". An envelope (AWS SNS) has its message's
 *    keys counted (or its first words, when not JSON): its own keys say
 *    only that it is a message.
 *
 * Tuned on tests/classify/tuning.jsonl only; the unit test reports the
 * accuracy on the held-out half.
 */

#include <stdint.h>
#include <string.h>

#include "hookd_classify.h"


#define HOOKD_CLASSIFY_MIN         3
#define HOOKD_CLASSIFY_PRIOR       8
#define HOOKD_CLASSIFY_DEPTH       3
#define HOOKD_CLASSIFY_MAX_KEYS    256
#define HOOKD_CLASSIFY_WORD_LEN    32
#define HOOKD_CLASSIFY_SEEN        512     /* a power of two */
#define HOOKD_CLASSIFY_TABLE       1024    /* a power of two, 3x the words */
#define HOOKD_CLASSIFY_NAMING      64      /* a power of two, 2x the keys */
#define HOOKD_CLASSIFY_LONGEST     16      /* no word or naming key is longer */
#define HOOKD_CLASSIFY_INNER       1024    /* words of a text message */
#define HOOKD_CLASSIFY_INNER_JSON  65536   /* a JSON message parsed */

/* where a word was found, and what it weighs there */
#define HOOKD_IN_KEY    1
#define HOOKD_IN_VALUE  2
#define HOOKD_IN_TYPE   3


typedef struct {
    const char     *word;
    unsigned char   weights[4];    /* category, weight, category, weight */
} hookd_word_t;

/* a clue: the string or value at a JSON pointer; value NULL: present */
typedef struct {
    const char  *pointer;
    const char  *prefix;
} hookd_clue_t;

typedef struct {
    const char        *name;
    int                category;      /* -1: none implied */
    hookd_clue_t       clues[2];
    const char        *inner;         /* a string whose words are keys */
} hookd_fingerprint_t;

typedef struct {
    int       score[HOOKD_CATEGORY_N];
    uint32_t  seen[HOOKD_CLASSIFY_SEEN];
    int       keys;
} hookd_tally_t;


static const char *hookd_category_names[HOOKD_CATEGORY_N] = {
    "other", "billing", "code", "alerts", "identity", "commerce",
    "messaging", "infrastructure"
};

/* hookd's named source providers, and the category each implies */
static const struct {
    const char  *name;
    int          category;
} hookd_sources[] = {
    { "github", HOOKD_CATEGORY_CODE },
    { "shopify", HOOKD_CATEGORY_COMMERCE },
    { "slack", HOOKD_CATEGORY_MESSAGING },
    { "stripe", HOOKD_CATEGORY_BILLING },
};

/* tried in order: a more specific fingerprint before a looser one */
static const hookd_fingerprint_t hookd_providers[] = {
    { "stripe", HOOKD_CATEGORY_BILLING, { { "/object", "event" }, { "/id", "evt_" } }, NULL },
    { "paddle", HOOKD_CATEGORY_BILLING, { { "/notification_id", "ntf_" }, { "/event_type", NULL } }, NULL },
    { "chargebee", HOOKD_CATEGORY_BILLING, { { "/webhook_status", NULL }, { "/content", NULL } }, NULL },
    { "recurly", HOOKD_CATEGORY_BILLING, { { "/object_type", NULL }, { "/site_id", NULL } }, NULL },
    { "paypal", HOOKD_CATEGORY_BILLING, { { "/id", "WH-" }, { "/resource_type", NULL } }, NULL },
    { "gocardless", HOOKD_CATEGORY_BILLING, { { "/events/0/resource_type", NULL }, { "/meta/webhook_id", NULL } }, NULL },
    { "razorpay", HOOKD_CATEGORY_BILLING, { { "/entity", "event" }, { "/contains", NULL } }, NULL },
    { "gitlab", HOOKD_CATEGORY_CODE, { { "/object_kind", NULL }, { "/project", NULL } }, NULL },
    { "gitlab", HOOKD_CATEGORY_CODE, { { "/object_kind", NULL }, { "/project_id", NULL } }, NULL },
    { "bitbucket", HOOKD_CATEGORY_CODE, { { "/repository/scm", NULL }, { "/actor", NULL } }, NULL },
    { "circleci", HOOKD_CATEGORY_CODE, { { "/webhook/id", NULL }, { "/happened_at", NULL } }, NULL },
    { "azure_devops", HOOKD_CATEGORY_CODE, { { "/publisherId", NULL }, { "/resourceVersion", NULL } }, NULL },
    { "github", HOOKD_CATEGORY_CODE, { { "/sender/login", NULL }, { "/repository/full_name", NULL } }, NULL },
    { "pagerduty", HOOKD_CATEGORY_ALERTS, { { "/event/event_type", NULL }, { "/event/resource_type", NULL } }, NULL },
    { "datadog", HOOKD_CATEGORY_ALERTS, { { "/alert_transition", NULL }, { "/org", NULL } }, NULL },
    { "opsgenie", HOOKD_CATEGORY_ALERTS, { { "/integrationName", NULL }, { "/alert", NULL } }, NULL },
    { "grafana", HOOKD_CATEGORY_ALERTS, { { "/groupKey", NULL }, { "/orgId", NULL } }, NULL },
    { "prometheus", HOOKD_CATEGORY_ALERTS, { { "/groupKey", NULL }, { "/alerts", NULL } }, NULL },
    { "sentry", HOOKD_CATEGORY_ALERTS, { { "/installation/uuid", NULL }, { "/actor", NULL } }, NULL },
    { "newrelic", HOOKD_CATEGORY_ALERTS, { { "/condition_name", NULL }, { "/policy_name", NULL } }, NULL },
    { "statuspage", HOOKD_CATEGORY_ALERTS, { { "/page/status_indicator", NULL }, { "/meta", NULL } }, NULL },
    { "aws", -1, { { "/TopicArn", "arn:aws:sns:" }, { "/Type", NULL } }, "/Message" },
    { "aws", -1, { { "/source", "aws." }, { "/detail-type", NULL } }, NULL },
    { "aws", -1, { { "/Records/0/eventSource", "aws:" }, { NULL, NULL } }, NULL },
    { "auth0", HOOKD_CATEGORY_IDENTITY, { { "/log_id", NULL }, { "/data", NULL } }, NULL },
    { "okta", HOOKD_CATEGORY_IDENTITY, { { "/eventType", "com.okta." }, { NULL, NULL } }, NULL },
    { "clerk", HOOKD_CATEGORY_IDENTITY, { { "/object", "event" }, { "/timestamp", NULL } }, NULL },
    { "workos", HOOKD_CATEGORY_IDENTITY, { { "/id", "event_" }, { "/event", NULL } }, NULL },
    { "stytch", HOOKD_CATEGORY_IDENTITY, { { "/project_id", "project-" }, { "/event_id", NULL } }, NULL },
    { "supabase", HOOKD_CATEGORY_IDENTITY, { { "/email_data/email_action_type", NULL }, { NULL, NULL } }, NULL },
    { "keycloak", HOOKD_CATEGORY_IDENTITY, { { "/realmId", NULL }, { "/type", NULL } }, NULL },
    { "fusionauth", HOOKD_CATEGORY_IDENTITY, { { "/event/tenantId", NULL }, { "/event/type", NULL } }, NULL },
    { "shopify", HOOKD_CATEGORY_COMMERCE, { { "/admin_graphql_api_id", "gid://shopify/" }, { NULL, NULL } }, NULL },
    { "woocommerce", HOOKD_CATEGORY_COMMERCE, { { "/permalink", NULL }, { "/catalog_visibility", NULL } }, NULL },
    { "bigcommerce", HOOKD_CATEGORY_COMMERCE, { { "/scope", "store/" }, { "/producer", NULL } }, NULL },
    { "ecwid", HOOKD_CATEGORY_COMMERCE, { { "/storeId", NULL }, { "/eventType", NULL } }, NULL },
    { "slack", HOOKD_CATEGORY_MESSAGING, { { "/api_app_id", NULL }, { "/team_id", NULL } }, NULL },
    { "slack", HOOKD_CATEGORY_MESSAGING, { { "/team_domain", NULL }, { "/command", NULL } }, NULL },
    { "twilio", HOOKD_CATEGORY_MESSAGING, { { "/AccountSid", "AC" }, { NULL, NULL } }, NULL },
    { "sendgrid", HOOKD_CATEGORY_MESSAGING, { { "/data/0/sg_event_id", NULL }, { NULL, NULL } }, NULL },
    { "mailgun", HOOKD_CATEGORY_MESSAGING, { { "/event-data", NULL }, { "/signature", NULL } }, NULL },
    { "postmark", HOOKD_CATEGORY_MESSAGING, { { "/MessageStream", NULL }, { "/RecordType", NULL } }, NULL },
    { "intercom", HOOKD_CATEGORY_MESSAGING, { { "/type", "notification_event" }, { "/topic", NULL } }, NULL },
    { "discord", HOOKD_CATEGORY_MESSAGING, { { "/app_permissions", NULL }, { "/token", NULL } }, NULL },
    { "microsoft_teams", HOOKD_CATEGORY_MESSAGING, { { "/channelId", "msteams" }, { NULL, NULL } }, NULL },
    { "vercel", HOOKD_CATEGORY_INFRASTRUCTURE, { { "/payload/team", NULL }, { "/createdAt", NULL } }, NULL },
    { "netlify", HOOKD_CATEGORY_INFRASTRUCTURE, { { "/site_id", NULL }, { "/build_id", NULL } }, NULL },
    { "heroku", HOOKD_CATEGORY_INFRASTRUCTURE, { { "/webhook_metadata", NULL }, { "/resource", NULL } }, NULL },
    { "terraform_cloud", HOOKD_CATEGORY_INFRASTRUCTURE, { { "/notification_configuration_id", NULL }, { "/run_id", NULL } }, NULL },
    { "digitalocean", HOOKD_CATEGORY_INFRASTRUCTURE, { { "/droplet", NULL }, { "/action", NULL } }, NULL },
    { "gcp", -1, { { "/message/publishTime", NULL }, { "/subscription", "projects/" } }, NULL },
    { "typeform", HOOKD_CATEGORY_OTHER, { { "/form_response", NULL }, { NULL, NULL } }, NULL },
    { "calendly", HOOKD_CATEGORY_OTHER, { { "/created_by", "https://api.calendly.com/" }, { NULL, NULL } }, NULL },
    { "zoom", HOOKD_CATEGORY_OTHER, { { "/event_ts", NULL }, { "/payload/account_id", NULL } }, NULL },
    { "hubspot", HOOKD_CATEGORY_OTHER, { { "/data/0/portalId", NULL }, { "/data/0/subscriptionType", NULL } }, NULL },
    { "docusign", HOOKD_CATEGORY_OTHER, { { "/configurationId", NULL }, { "/generatedDateTime", NULL } }, NULL },
    { "trello", HOOKD_CATEGORY_OTHER, { { "/model", NULL }, { "/action/idMemberCreator", NULL } }, NULL },
    { "airtable", HOOKD_CATEGORY_OTHER, { { "/base/id", NULL }, { "/webhook/id", NULL } }, NULL },
    { "mux", HOOKD_CATEGORY_OTHER, { { "/accessor_source", NULL }, { "/environment", NULL } }, NULL },
    { "strava", HOOKD_CATEGORY_OTHER, { { "/aspect_type", NULL }, { "/object_type", NULL } }, NULL },
    { "google", -1, { { "/kind", "api#channel" }, { NULL, NULL } }, NULL },
};

/* keys whose string values name what an event is about, sorted */
static const char *hookd_naming_keys[] = {
    "RecordType", "Subject", "action", "detail-type", "entity", "event",
    "eventType", "event_type", "kind", "object", "object_kind",
    "object_type", "resource", "resource_type", "scope", "source",
    "subject", "subscriptionType", "title", "topic", "triggerSource",
    "type",
};

/* sorted, for people; hookd_classify_check_tables() says so */
static const hookd_word_t hookd_words[] = {
    { "acknowledge", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "acknowledged", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "adjustment", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "alarm", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "alert", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "ami", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "amount", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "annotation", { HOOKD_CATEGORY_ALERTS, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "anomaly", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "answer", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "appointment", { HOOKD_CATEGORY_OTHER, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "arn", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "artifact", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "assignee", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "attendee", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "auth", { HOOKD_CATEGORY_IDENTITY, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "auth0", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "authenticated", { HOOKD_CATEGORY_IDENTITY, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "authentication", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "autoscaling", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "aws", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "backup", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "balance", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "bank", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "bill", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "billing", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "booking", { HOOKD_CATEGORY_OTHER, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "bot", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "bounce", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "bounced", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "branch", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "bucket", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "build", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_INFRASTRUCTURE, 1 } },
    { "buyer", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "calendar", { HOOKD_CATEGORY_OTHER, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "call", { HOOKD_CATEGORY_MESSAGING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "caller", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "capture", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "captured", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "card", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "carrier", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "cart", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "catalog", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "changeset", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "channel", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "charge", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "chargeback", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "chat", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "check", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "checkout", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_COMMERCE, 1 } },
    { "clone", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "cloud", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "cluster", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "cognito", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "command", { HOOKD_CATEGORY_MESSAGING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "comment", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "commerce", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "commit", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "committer", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "compare", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "compute", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "condition", { HOOKD_CATEGORY_ALERTS, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "connection", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "container", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "conversation", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "coupon", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "cpu", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "credential", { HOOKD_CATEGORY_IDENTITY, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "credit", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "critical", { HOOKD_CATEGORY_ALERTS, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "crm", { HOOKD_CATEGORY_OTHER, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "culprit", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "currency", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "database", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "deal", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "debit", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "delinquent", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "delivered", { HOOKD_CATEGORY_MESSAGING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "deploy", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "deployment", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "diff", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "direction", { HOOKD_CATEGORY_MESSAGING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "directory", { HOOKD_CATEGORY_IDENTITY, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "discount", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "disk", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "dispute", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "dlr", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "dns", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "docker", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "dockerfile", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "document", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "domain", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "downtime", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "droplet", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "dsync", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "dunning", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "dyno", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "earning", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "ec2", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "ecommerce", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "ecs", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "email", { HOOKD_CATEGORY_MESSAGING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "envelope", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "environment", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "escalate", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "escalated", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "escalation", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "exception", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "factor", { HOOKD_CATEGORY_IDENTITY, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "failover", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "fargate", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "fee", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "firing", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "fork", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "form", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "framework", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "fulfill", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "fulfillment", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "gateway", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "gist", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "git", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "github", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "gitlab", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "group", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "guild", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "head", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "hook", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "host", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "hostname", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "iban", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "identity", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "image", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "inbox", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "incident", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "infrastructure", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "instance", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "intent", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "interval", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "inventory", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "invitee", { HOOKD_CATEGORY_OTHER, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "invoice", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "issue", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "item", { HOOKD_CATEGORY_COMMERCE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "k8", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "kubernete", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "lambda", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "last4", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "lead", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "lifecycle", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "line", { HOOKD_CATEGORY_COMMERCE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "lint", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "linter", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "listing", { HOOKD_CATEGORY_COMMERCE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "livemode", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "lock", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "locked", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "lockout", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "login", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "logout", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "machine", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "mail", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "mandate", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "meeting", { HOOKD_CATEGORY_OTHER, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "membership", { HOOKD_CATEGORY_IDENTITY, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "memory", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "mention", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "merchant", { HOOKD_CATEGORY_COMMERCE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "merge", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "merged", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "message", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "metric", { HOOKD_CATEGORY_ALERTS, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "mfa", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "milestone", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "mms", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "monitor", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "mrr", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "namespace", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "netbanking", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "node", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "oauth", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "oidc", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "okta", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "oncall", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "openid", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "opsgenie", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "order", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "otp", { HOOKD_CATEGORY_IDENTITY, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "outage", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "pagerduty", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "paid", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "parcel", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "passkey", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "password", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "payment", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "payout", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "paypal", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "pipeline", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "plan", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "pod", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "price", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "priority", { HOOKD_CATEGORY_ALERTS, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "product", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "proration", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "provision", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "provisioning", { HOOKD_CATEGORY_IDENTITY, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "pull", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "pullrequest", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "purchasable", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "push", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "pusher", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "quantity", { HOOKD_CATEGORY_COMMERCE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "questionnaire", { HOOKD_CATEGORY_OTHER, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "rds", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "reaction", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "realm", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "receipt", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "recipient", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "recording", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "recovered", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "recurring", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "ref", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "refund", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "region", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "registry", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "release", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "renew", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "renewal", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "renewed", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "replied", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "reply", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "repo", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "repository", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "resolved", { HOOKD_CATEGORY_ALERTS, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "responder", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "restock", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "review", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "reviewer", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "revision", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "role", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "run", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "s3", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "sale", { HOOKD_CATEGORY_COMMERCE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "saml", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "scaling", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "scim", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "scm", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "segment", { HOOKD_CATEGORY_MESSAGING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "seller", { HOOKD_CATEGORY_COMMERCE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "sender", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "server", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "session", { HOOKD_CATEGORY_IDENTITY, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "settlement", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "severity", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "sha", { HOOKD_CATEGORY_CODE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "ship", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "shipment", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "shipping", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "shop", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "shopify", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "signer", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "signin", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "signup", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "silence", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "site", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "sku", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "slack", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "slash", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "slug", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "sms", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "smtp", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "snapshot", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "spam", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "sso", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "stacktrace", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "star", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "stock", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "store", { HOOKD_CATEGORY_COMMERCE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "storefront", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "strategy", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "stripe", { HOOKD_CATEGORY_BILLING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "subject", { HOOKD_CATEGORY_MESSAGING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "subnet", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "subscription", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "suite", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "survey", { HOOKD_CATEGORY_OTHER, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "tag", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "tax", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "tenant", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "terraform", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "text", { HOOKD_CATEGORY_MESSAGING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "thread", { HOOKD_CATEGORY_MESSAGING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "threshold", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "totp", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "tracking", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "transaction", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "trial", { HOOKD_CATEGORY_BILLING, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "trigger", { HOOKD_CATEGORY_ALERTS, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "triggered", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "twilio", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "txn", { HOOKD_CATEGORY_BILLING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "unsubscribe", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "uptime", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "urgency", { HOOKD_CATEGORY_ALERTS, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "user", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "username", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "variant", { HOOKD_CATEGORY_COMMERCE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "vcs", { HOOKD_CATEGORY_CODE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "vendor", { HOOKD_CATEGORY_COMMERCE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "verification", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "verified", { HOOKD_CATEGORY_IDENTITY, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "video", { HOOKD_CATEGORY_OTHER, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "violation", { HOOKD_CATEGORY_ALERTS, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "vm", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "voice", { HOOKD_CATEGORY_MESSAGING, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "volume", { HOOKD_CATEGORY_INFRASTRUCTURE, 2, HOOKD_CATEGORY_OTHER, 0 } },
    { "vpc", { HOOKD_CATEGORY_INFRASTRUCTURE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "warehouse", { HOOKD_CATEGORY_COMMERCE, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "warning", { HOOKD_CATEGORY_ALERTS, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "webauthn", { HOOKD_CATEGORY_IDENTITY, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "webinar", { HOOKD_CATEGORY_OTHER, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "whatsapp", { HOOKD_CATEGORY_MESSAGING, 3, HOOKD_CATEGORY_OTHER, 0 } },
    { "workflow", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "workspace", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "zen", { HOOKD_CATEGORY_CODE, 1, HOOKD_CATEGORY_OTHER, 0 } },
    { "zone", { HOOKD_CATEGORY_INFRASTRUCTURE, 1, HOOKD_CATEGORY_OTHER, 0 } },
};


const char *
hookd_category_name(hookd_category_e category)
{
    return (unsigned) category < HOOKD_CATEGORY_N
           ? hookd_category_names[category] : "other";
}


int
hookd_category_parse(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < HOOKD_CATEGORY_N; i++) {
        if (strlen(hookd_category_names[i]) == len
            && memcmp(hookd_category_names[i], name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


int
hookd_classify_check_tables(void)
{
    size_t  i;

    for (i = 0; i < sizeof(hookd_words) / sizeof(hookd_words[0]); i++) {
        if ((i > 0 && strcmp(hookd_words[i - 1].word, hookd_words[i].word) >= 0)
            || strlen(hookd_words[i].word) > HOOKD_CLASSIFY_LONGEST)
        {
            return -1;
        }
    }

    if (3 * i > HOOKD_CLASSIFY_TABLE) {
        return -1;
    }

    for (i = 1; i < sizeof(hookd_naming_keys) / sizeof(char *); i++) {
        if (strcmp(hookd_naming_keys[i - 1], hookd_naming_keys[i]) >= 0) {
            return -1;
        }
    }

    return 0;
}


/* the value at a JSON pointer of plain segments (no ~ escapes) */
static json_t *
hookd_pointer(json_t *v, const char *pointer)
{
    char         seg[64];
    size_t       n;
    const char  *next;

    while (v != NULL && *pointer == '/') {
        pointer++;
        next = strchr(pointer, '/');
        n = next ? (size_t) (next - pointer) : strlen(pointer);

        if (n >= sizeof(seg)) {
            return NULL;
        }

        memcpy(seg, pointer, n);
        seg[n] = '\0';
        pointer += n;

        if (json_is_array(v)) {
            v = (seg[0] >= '0' && seg[0] <= '9' && seg[1] == '\0')
                ? json_array_get(v, seg[0] - '0') : NULL;

        } else {
            v = json_object_get(v, seg);
        }
    }

    return v;
}


static int
hookd_clue_holds(json_t *payload, const hookd_clue_t *clue)
{
    json_t  *v;

    if (clue->pointer == NULL) {
        return 1;
    }

    v = hookd_pointer(payload, clue->pointer);

    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    if (clue->prefix == NULL) {
        return 1;
    }

    return json_is_string(v)
           && strncmp(json_string_value(v), clue->prefix,
                      strlen(clue->prefix)) == 0;
}


/*
 * hookd_words by the FNV-1a hash of each word, built on first use (nginx's
 * workers and hookd's loop are single-threaded; the table is the same for
 * whoever builds it): a word costs a hash, not a binary search.
 */
static uint32_t        hookd_word_hashes[HOOKD_CLASSIFY_TABLE];
static unsigned short  hookd_word_slots[HOOKD_CLASSIFY_TABLE];
static uint32_t        hookd_naming_hashes[HOOKD_CLASSIFY_NAMING];
static int             hookd_word_table_built;


static uint32_t
hookd_word_hash(const char *word, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;
    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) word[i]) * 16777619u;
    }

    return h;
}


static void
hookd_word_table(void)
{
    size_t    i, slot;
    uint32_t  h;

    for (i = 0; i < sizeof(hookd_naming_keys) / sizeof(char *); i++) {
        h = hookd_word_hash(hookd_naming_keys[i], strlen(hookd_naming_keys[i]))
            | 1;

        for (slot = h & (HOOKD_CLASSIFY_NAMING - 1); hookd_naming_hashes[slot];
             slot = (slot + 1) & (HOOKD_CLASSIFY_NAMING - 1))
        {
            /* probe */
        }

        hookd_naming_hashes[slot] = h;
    }

    for (i = 0; i < sizeof(hookd_words) / sizeof(hookd_words[0]); i++) {
        h = hookd_word_hash(hookd_words[i].word, strlen(hookd_words[i].word));

        for (slot = h & (HOOKD_CLASSIFY_TABLE - 1); hookd_word_slots[slot];
             slot = (slot + 1) & (HOOKD_CLASSIFY_TABLE - 1))
        {
            /* probe */
        }

        hookd_word_hashes[slot] = h;
        hookd_word_slots[slot] = (unsigned short) (i + 1);
    }
}


/* a key of hookd_naming_keys, by hash (and then by name) */
static int
hookd_naming_key(const char *key)
{
    size_t    i, slot, len;
    uint32_t  h;

    len = strlen(key);
    if (len > HOOKD_CLASSIFY_LONGEST) {
        return 0;
    }

    h = hookd_word_hash(key, len) | 1;

    for (slot = h & (HOOKD_CLASSIFY_NAMING - 1); hookd_naming_hashes[slot];
         slot = (slot + 1) & (HOOKD_CLASSIFY_NAMING - 1))
    {
        if (hookd_naming_hashes[slot] != h) {
            continue;
        }

        for (i = 0; i < sizeof(hookd_naming_keys) / sizeof(char *); i++) {
            if (strcmp(key, hookd_naming_keys[i]) == 0) {
                return 1;
            }
        }
    }

    return 0;
}


static const hookd_word_t *
hookd_word_find(const char *word, size_t len, uint32_t h)
{
    size_t              slot;
    const hookd_word_t  *w;

    for (slot = h & (HOOKD_CLASSIFY_TABLE - 1); hookd_word_slots[slot];
         slot = (slot + 1) & (HOOKD_CLASSIFY_TABLE - 1))
    {
        w = &hookd_words[hookd_word_slots[slot] - 1];

        if (hookd_word_hashes[slot] == h && strncmp(w->word, word, len) == 0
            && w->word[len] == '\0')
        {
            return w;
        }
    }

    return NULL;
}


/* a word found where it weighs `place`: scored once per place */
static void
hookd_tally_word(hookd_tally_t *t, char *word, size_t len, int place)
{
    size_t               i;
    uint32_t             h, seen;
    const hookd_word_t  *w;

    if (len < 2) {
        return;
    }

    /* plurals: orders, alerts, identities; not status, address, analysis */
    if (len > 4 && word[len - 1] == 's' && word[len - 2] == 'e'
        && word[len - 3] == 'i')
    {
        word[len - 3] = 'y';
        len -= 2;

    } else if (len > 3 && word[len - 1] == 's' && word[len - 2] != 's'
               && word[len - 2] != 'u' && word[len - 2] != 'i')
    {
        len--;
    }

    if (len > HOOKD_CLASSIFY_LONGEST) {
        return;
    }

    h = hookd_word_hash(word, len);

    /* seen once per place; 0 marks an empty slot */
    seen = ((h * 31u) + (uint32_t) place) | 1;

    for (i = seen & (HOOKD_CLASSIFY_SEEN - 1); t->seen[i] != 0;
         i = (i + 1) & (HOOKD_CLASSIFY_SEEN - 1))
    {
        if (t->seen[i] == seen) {
            return;
        }
    }

    t->seen[i] = seen;

    w = hookd_word_find(word, len, h);
    if (w == NULL) {
        return;
    }

    t->score[w->weights[0]] += w->weights[1] * place;
    t->score[w->weights[2]] += w->weights[3] * place;
}


/* cuts s at punctuation and at camelCase humps into lower-case words */
static void
hookd_tally_words(hookd_tally_t *t, const char *s, size_t len, int place)
{
    char    word[HOOKD_CLASSIFY_WORD_LEN + 1];
    size_t  i, n;
    int     c, prev_lower;

    n = 0;
    prev_lower = 0;

    for (i = 0; i <= len; i++) {
        c = i < len ? (unsigned char) s[i] : 0;

        if ((c >= 'A' && c <= 'Z') && prev_lower && n > 0) {
            hookd_tally_word(t, word, n, place);
            n = 0;
        }

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            prev_lower = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

            if (n < HOOKD_CLASSIFY_WORD_LEN) {
                word[n++] = (char) (c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            continue;
        }

        prev_lower = 0;

        if (n > 0) {
            hookd_tally_word(t, word, n, place);
            n = 0;
        }
    }
}


static void
hookd_tally_keys(hookd_tally_t *t, json_t *v, int depth)
{
    json_t      *child;
    const char  *key;

    if (json_is_array(v)) {
        v = json_array_get(v, 0);
    }

    if (!json_is_object(v) || depth > HOOKD_CLASSIFY_DEPTH) {
        return;
    }

    json_object_foreach(v, key, child) {
        if (++t->keys > HOOKD_CLASSIFY_MAX_KEYS) {
            return;
        }

        hookd_tally_words(t, key, strlen(key), HOOKD_IN_KEY);

        if (json_is_string(child)) {
            if (json_string_length(child) <= 64 && hookd_naming_key(key)) {
                hookd_tally_words(t, json_string_value(child),
                                  json_string_length(child), HOOKD_IN_VALUE);
            }

        } else {
            hookd_tally_keys(t, child, depth + 1);
        }
    }
}


/* an envelope's message: its keys when it is JSON, else its first words */
static void
hookd_tally_inner(hookd_tally_t *t, const char *text, size_t len)
{
    json_t  *doc;

    doc = len <= HOOKD_CLASSIFY_INNER_JSON && len > 0 && text[0] == '{'
          ? json_loadb(text, len, JSON_DECODE_INT_AS_REAL, NULL) : NULL;

    if (doc != NULL) {
        hookd_tally_keys(t, doc, 1);
        json_decref(doc);
        return;
    }

    hookd_tally_words(t, text, len < HOOKD_CLASSIFY_INNER
                               ? len : HOOKD_CLASSIFY_INNER, HOOKD_IN_KEY);
}


void
hookd_classify_event(const char *source, const char *event_type, size_t type_len,
    json_t *payload, hookd_event_class_t *out)
{
    int            i, best, prior;
    size_t         k;
    json_t        *inner;
    hookd_tally_t  t;

    if (!hookd_word_table_built) {
        hookd_word_table();
        hookd_word_table_built = 1;
    }

    out->provider = "custom";
    prior = -1;
    inner = NULL;

    for (k = 0; source && k < sizeof(hookd_sources) / sizeof(hookd_sources[0]);
         k++)
    {
        if (strcmp(source, hookd_sources[k].name) == 0) {
            out->provider = hookd_sources[k].name;
            prior = hookd_sources[k].category;
            break;
        }
    }

    if (prior < 0 && json_is_object(payload)) {
        for (k = 0; k < sizeof(hookd_providers) / sizeof(hookd_providers[0]);
             k++)
        {
            if (hookd_clue_holds(payload, &hookd_providers[k].clues[0])
                && hookd_clue_holds(payload, &hookd_providers[k].clues[1]))
            {
                out->provider = hookd_providers[k].name;
                prior = hookd_providers[k].category;
                inner = hookd_providers[k].inner
                        ? hookd_pointer(payload, hookd_providers[k].inner)
                        : NULL;
                break;
            }
        }
    }

    memset(&t, 0, sizeof(t));

    if (prior >= 0) {
        t.score[prior] += HOOKD_CLASSIFY_PRIOR;
    }

    hookd_tally_words(&t, event_type, type_len, HOOKD_IN_TYPE);
    hookd_tally_keys(&t, payload, 1);

    if (json_is_string(inner)) {
        hookd_tally_inner(&t, json_string_value(inner),
                          json_string_length(inner));
    }

    best = HOOKD_CATEGORY_OTHER;

    for (i = 1; i < HOOKD_CATEGORY_N; i++) {
        if (t.score[i] > t.score[best]
            || (t.score[i] == t.score[best] && i == prior))
        {
            best = i;
        }
    }

    /* a tie with the best that is not the provider's: nobody wins */
    for (i = 0; i < HOOKD_CATEGORY_N; i++) {
        if (i != best && best != prior && t.score[i] == t.score[best]) {
            best = prior >= 0 ? prior : HOOKD_CATEGORY_OTHER;
            break;
        }
    }

    if (t.score[best] < HOOKD_CLASSIFY_MIN) {
        best = HOOKD_CATEGORY_OTHER;
    }

    out->category = (hookd_category_e) best;
}
