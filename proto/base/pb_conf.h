/* The one config loader: deploy/mailroom.ini, parsed with libinih.
 * Every setting has a default here, so an empty file gives a loopback
 * demo with its state under ./var. Paths are taken as written, relative to
 * the working directory of the process. */
#ifndef PB_CONF_H
#define PB_CONF_H

#include <stddef.h>
#include <stdint.h>

#define PB_NAME_MAX 64
#define PB_PATH_MAX 512
#define PB_MAX_HANDLERS 256
#define PB_MAX_ROUTES 128
#define PB_MAX_QUEUES 64
#define PB_MAX_KEYWORDS 16
#define PB_MAX_HOTLINE_APPS 8
#define PB_MAX_CONNECTORS 4

/* Channel indices match mailroom.proto's Channel enum. */
enum { PB_CH_MAILBOX = 1, PB_CH_CONSULTATION, PB_CH_COMPLAINT, PB_CH_HOTLINE,
       PB_CH_DISCLOSURE, PB_CH_PETITION, PB_CH_COUNT };

struct pb_handler {
	char name[PB_NAME_MAX];
	uint8_t pubkey[32];
	int nqueues;
	char queues[PB_MAX_QUEUES][PB_NAME_MAX];
	int may_import;                     /* import = yes: mailroom-admin import */
	int may_admin;                      /* admin = yes: mailroom-admin handler add/remove */
	int may_supervise;                  /* supervise = yes: the supervision (督办) view */
};

struct pb_route {
	char name[PB_NAME_MAX];
	int channel;                        /* 0 = any */
	char category[PB_NAME_MAX];         /* "" = any */
	int nkeywords;
	char keywords[PB_MAX_KEYWORDS][PB_NAME_MAX];   /* any one matches; none = always */
	char queue[PB_NAME_MAX];
};

/* One deadline rule: working days, or calendar hours when hours > 0, or
 * calendar days when days > 0 (petitions). */
struct pb_clock {
	int working_days;
	int hours;
	int days;
};

struct pb_policy {
	struct pb_clock ack[PB_CH_COUNT];
	struct pb_clock reply[PB_CH_COUNT];
	struct pb_clock hotline_consult_reply;   /* category consultation */
	struct pb_clock hotline_urgent_ack;
	struct pb_clock hotline_urgent_reply;
	struct pb_clock petition_review;         /* 复查 and 复核 answers */
	/* approved extensions: at most extend_max working days in all, in at
	 * most extend_times approvals (0 = never) */
	int extend_max[PB_CH_COUNT];
	int extend_times[PB_CH_COUNT];
};

struct pb_hotline_app {
	char app_id[PB_NAME_MAX];
	char secret_file[PB_PATH_MAX];
};

/* [connector.NAME] key = HEX: a 12345 connector (mailroom-hotline) the
 * router knows by its Ed25519 public key. */
struct pb_connector {
	char name[PB_NAME_MAX];
	uint8_t pubkey[32];
	int notify;                         /* role = notify: mailroom-notify */
};

/* [witness.NAME] url = http://HOST:PORT (its add-checkpoint prefix), key =
 * its cosignature verifier key "<name>+<hex id>+<base64>": a witness the
 * router pushes its checkpoints to (router/README.md, "Witnesses"). The
 * key is checked by the router, which knows the format. */
#define PB_MAX_WITNESSES 8
struct pb_witness {
	char name[PB_NAME_MAX];
	char url[PB_PATH_MAX];
	char key[256];
};

struct pb_conf {
	char log_level[16];

	/* [store] */
	char store_path[PB_PATH_MAX];
	size_t map_size_mb;
	char keys_dir[PB_PATH_MAX];
	char signing_key[PB_PATH_MAX];
	char previous_signing_key[PB_PATH_MAX];   /* "" unless rotating the log key */
	char data_key[PB_PATH_MAX];
	char log_origin[128];              /* signed-note key name of the log */

	/* [router] */
	char router_url[PB_PATH_MAX];      /* where the router listens, e.g. ipc://./var/router.ipc */
	char events_url[PB_PATH_MAX];      /* PUB socket for committed events */
	int commit_window_us;              /* how long the writer gathers a batch */
	int commit_max_batch;
	int router_contexts;
	int lease_seconds;
	int request_skew_seconds;
	int max_wait_ms;                   /* cap on a pull's long-poll */
	int handler_max_requests;          /* one handler's writes in the router at once */
	char gateway_secret[PB_PATH_MAX];  /* MAC key shared by gateway and router */
	char calendars_dir[PB_PATH_MAX];
	char local_calendars_dir[PB_PATH_MAX];   /* the office's own years; "" = none */
	char search_index[PB_PATH_MAX];    /* "" = search.db in the store's directory; "memory" */
	char router_metrics_addr[64];      /* "" = no metrics listener */
	int router_metrics_port;

	/* [gateway] */
	char http_addr[64];
	int http_port;
	int http_threads;
	int http_max_conns;
	int http_max_per_ip;
	int http_timeout_s;
	size_t http_body_max;
	int router_timeout_ms;
	int router_lanes;            /* envelopes in flight to the router */
	int router_resolve_ms;       /* asking a timed-out submit's outcome, before a 202 */
	int router_batch;            /* requests one envelope may carry */
	char public_base_url[PB_PATH_MAX];  /* for Location headers */
	char cors_origins[PB_PATH_MAX];     /* origins allowed to call /v1/ from a browser; "" = none */
	int submit_per_minute;              /* per client address; 0 = no limit */
	int lookup_per_minute;
	int header_timeout_s;               /* a request's headers complete within this */
	int body_min_rate;                  /* bytes a second a body must keep up, after body_grace_s */
	int body_grace_s;
	int reserve_connections;            /* of max_connections, kept for clients that behave */
	char trusted_proxies[PB_PATH_MAX];  /* addresses whose X-Forwarded-For is believed */
	int health_stall_ms;                /* writer silent this long with work queued: not ready */
	int access_log;                     /* yes: one info line per request */

	/* [gateway] HTTPS on both listeners when both are set */
	char https_cert_file[PB_PATH_MAX];
	char https_key_file[PB_PATH_MAX];

	/* [tls] this process's end of a tls+tcp:// router link (docs/tls.md) */
	char tls_cert_file[PB_PATH_MAX];
	char tls_key_file[PB_PATH_MAX];     /* a secret: mode 0600 */
	char tls_ca_file[PB_PATH_MAX];      /* the CA the peer's certificate must chain to */
	char tls_server_name[256];          /* the router's name in its certificate */

	/* [office] the citizen's web pages */
	char office_name[128];
	int ndepartments;                   /* department.QUEUE = the name citizens see */
	struct pb_department {
		char queue[PB_NAME_MAX];
		char name[128];
	} departments[PB_MAX_QUEUES];

	/* [attachments] citizens' files (store/README.md, "Attachments") */
	int attach_max_files;              /* per message */
	size_t attach_max_bytes;           /* per file */
	char clamd_addr[PB_PATH_MAX];      /* unix:PATH or tcp:HOST:PORT; "" = no scanner */
	int scan_interval_ms;              /* how often pending files are tried again */
	int scan_timeout_ms;

	/* [console] the handlers' listener; "" listen_addr = none */
	char console_addr[64];
	int console_port;

	/* [hotline] apps that may push orders */
	int nhotline_apps;
	struct pb_hotline_app hotline_apps[PB_MAX_HOTLINE_APPS];
	/* [petition.app.ID] the petition system's apps that may push transfers */
	int npetition_apps;
	struct pb_hotline_app petition_apps[PB_MAX_HOTLINE_APPS];
	int hotline_skew_seconds;
	/* [hotline] mailroom-hotline: pulling orders, delivering results */
	char hotline_platform_url[PB_PATH_MAX];   /* "" = the connector is off */
	char hotline_app_id[PB_NAME_MAX];         /* ours, issued by the platform */
	char hotline_app_secret_file[PB_PATH_MAX];
	char hotline_key_file[PB_PATH_MAX];       /* the connector's own Ed25519 seed */
	char hotline_unit[PB_NAME_MAX * 2];       /* handler.unit in result events */
	int hotline_pull;                         /* 0: push only, no puller */
	int hotline_poll_interval_ms;
	int hotline_page_limit;
	int hotline_connect_timeout_ms;
	int hotline_timeout_ms;
	int hotline_backoff_max_ms;
	int hotline_deliver_batch;
	char hotline_metrics_addr[64];            /* "" = no health and metrics listener */
	int hotline_metrics_port;
	int hotline_unhealthy_after_s;            /* /healthz: the router's or upstream's silence */
	int hotline_unhealthy_failures;           /* /healthz: upstream failures in a row */

	/* [queues] default queue per channel */
	char default_queue[PB_CH_COUNT][PB_NAME_MAX];

	/* [route.NAME] */
	int nroutes;
	struct pb_route routes[PB_MAX_ROUTES];

	/* [policy] */
	struct pb_policy policy;

	/* [disclosure] applications (deadlines.md section 3) */
	int disc_correction_notice_days;    /* Art. 30: ask for a correction within N working days */
	int disc_correction_days;           /* the applicant's time to correct */
	int disc_consult_days;              /* Art. 32: a third party's time */
	int disc_fee_days;                  /* time to pay a fee notice */
	int disc_repeat_window_days;        /* repeats: earlier applications this recent */
	int disc_repeat_permille;           /* repeats: resemblance from this (0-1000) */
	/* [assist] 协办: an assisting queue's opinion is due this many
	 * working days after it was asked, unless the lead says otherwise */
	int assist_days;
	/* [repeats] the plain channels: a window per channel (0: off), one
	 * resemblance threshold */
	int repeat_window_days[PB_CH_COUNT];
	int repeat_permille;

	/* [handler.NAME] */
	int nhandlers;
	struct pb_handler handlers[PB_MAX_HANDLERS];
	/* [route] dispatcher: where a return to dispatch sends a message;
	 * "" = the channel's default queue */
	char dispatcher_queue[PB_NAME_MAX];
	/* [rating]: satisfaction, call-backs, the veto line (workers/README.md, "Ratings") */
	char callback_queue[PB_NAME_MAX];   /* where bad ratings' call-backs wait */
	int callback_days;                  /* working days to call back */
	int rating_invite_days;             /* an unrated answer is invited again after N days */
	int veto_days;                      /* unanswered this many days: the first alert */
	int veto_days_2;                    /* and the second */
	/* [connector.NAME]: the connectors the router serves */
	int nconnectors;
	struct pb_connector connectors[PB_MAX_CONNECTORS];

	/* [witness.NAME]: witnesses to push checkpoints to; [witness]
	 * push_interval_ms: at most one push per witness this often */
	int nwitnesses;
	struct pb_witness witnesses[PB_MAX_WITNESSES];
	int witness_push_interval_ms;

	/* [notify] mailroom-notify: notices to citizens (workers/notify) */
	char notify_mode[16];                     /* folder | send */
	char notify_folder[PB_PATH_MAX];          /* folder mode: one file per notice */
	char notify_templates[PB_PATH_MAX];       /* <kind>.<email|sms>.txt */
	char notify_key_file[PB_PATH_MAX];        /* its own Ed25519 seed */
	char notify_state_dir[PB_PATH_MAX];       /* the journal of what was sent */
	int notify_poll_interval_ms;
	int notify_max_attempts;                  /* then a dead letter */
	int notify_backoff_max_ms;
	int notify_timeout_ms;
	char notify_metrics_addr[64];             /* "" = no health and metrics listener */
	int notify_metrics_port;
	int notify_unhealthy_after_s;
	int notify_unhealthy_failures;
	/* [notify.smtp] the relay: smtp://host:587 (STARTTLS) or smtps:// */
	char smtp_url[PB_PATH_MAX];
	char smtp_from[256];
	char smtp_user[PB_NAME_MAX * 2];
	char smtp_password_file[PB_PATH_MAX];
	char smtp_ca_file[PB_PATH_MAX];           /* "" = the system's */
	int smtp_require_tls;                     /* yes: never send in clear */
	/* [notify.sms] the provider: tencent (Tencent Cloud SMS, TC3-HMAC-SHA256) */
	char sms_provider[32];                    /* "" = no SMS */
	char sms_url[PB_PATH_MAX];
	char sms_secret_id[PB_NAME_MAX * 2];
	char sms_secret_key_file[PB_PATH_MAX];
	char sms_app_id[PB_NAME_MAX];             /* SmsSdkAppId */
	char sms_sign_name[PB_NAME_MAX * 2];      /* the approved signature, e.g. 某某市政府 */
	char sms_region[PB_NAME_MAX];
};

/* Fills defaults, then reads path (NULL = defaults only). On error writes
 * "file:line: reason" into err and returns PB_EINVAL or PB_EIO. */
int pb_conf_load(const char *path, struct pb_conf *c, char *err, size_t errlen);
void pb_conf_defaults(struct pb_conf *c);

/* "mailbox" -> 1 ...; 0 when unknown. */
int pb_channel_parse(const char *s);
const char *pb_channel_name(int channel);

/* The name citizens see for queue q ([office] department.Q), else q. */
const char *pb_conf_department(const struct pb_conf *c, const char *q);
/* Is q a queue the configuration knows (a default, a route target or a
 * handler's queue)? */
int pb_conf_queue_known(const struct pb_conf *c, const char *q);
const struct pb_handler *pb_conf_handler_by_key(const struct pb_conf *c, const uint8_t pubkey[32]);
int pb_handler_may(const struct pb_handler *h, const char *queue);
const struct pb_connector *pb_conf_connector_by_key(const struct pb_conf *c,
                                                    const uint8_t pubkey[32]);

/* Reads a whole small file (keys, secrets) of at most max bytes. */
int pb_read_file(const char *path, uint8_t *buf, size_t max, size_t *len);
/* pb_read_file for a secret (a key, an HMAC secret): a file that group
 * or others may access is refused with PB_EFORBIDDEN, after an error log
 * line naming it and the "chmod 600 FILE" that fixes it. */
int pb_read_secret_file(const char *path, uint8_t *buf, size_t max, size_t *len);
/* Reads n bytes of hex from a secret file that must exist (through
 * pb_read_secret_file): PB_ENOTFOUND when it does not, PB_EFORBIDDEN when
 * others may read it, PB_ECORRUPT when it does not hold them. */
int pb_secret_load(const char *path, uint8_t *out, size_t n);
/* Creates a file with mode 0600 holding n random bytes as hex, unless it
 * exists; then reads n bytes of hex from it. *created tells which. */
int pb_secret_load_or_create(const char *path, uint8_t *out, size_t n, int *created);
/* mkdir -p with mode 0700 for the last component. */
int pb_mkdirs(const char *path);

#endif
