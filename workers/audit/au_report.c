/* The annual report's numbers, from the verified audit records alone (the
 * stored messages are mutable and unsigned, so a store and an exported
 * bundle give the same report). One pass over the log gathers what each
 * message's records say; the tables are counted from that.
 *
 * The time of an event is its effective_ms when set, else time_ms; dates
 * are Asia/Shanghai. The channel counts judge each message by au_judge.c
 * as of the range's end, or now when that is earlier. An application's receipt is the receipt_ms of its
 * last RECEIPT_CONFIRMED, else of RECEIVED; its decision is DECIDED. A
 * review or lawsuit is the last REVIEW_RECORDED naming its case number.
 * workers/README.md ("report") gives the rows' definitions. */
#include "au_idtab.h"
#include "au_judge.h"
#include "au_report.h"
#include "pb_err.h"
#include "pb_id.h"
#include "pb_time.h"

#include <stdlib.h>
#include <string.h>

const char *const au_channels[AU_NCHANNELS] = {
	"mailbox", "consultation", "complaint", "hotline", "petition", "disclosure",
};
const char *const au_channel_counts[AU_CH_COUNTS] = {
	"received", "answered", "on_time", "overdue", "open",
};
const char *const au_assist_counts[AU_AS_COUNTS] = {
	"asked", "on_time", "late", "overdue", "open",
};
const char *const au_check_names[AU_NCHECKS] = {
	"balance", "outcome_sum", "column_sum", "counted_once",
};

#define EV(x) MAILROOM__AUDIT_EVENT__AUDIT_##x

/* One review or lawsuit, as its last record has it. */
struct rcase {
	uint32_t next;             /* the message's next case + 1, or 0 */
	char *case_no;
	int kind, result;
	int64_t filed, decided;
};

/* A disclosure application, for tables 三 and 四. */
struct msg {
	uint8_t id[PB_ID_LEN];
	int8_t kind;               /* column, -1: none */
	int8_t outcome;            /* -1: not decided */
	uint8_t received;          /* RECEIVED seen */
	int64_t receipt;           /* the time that counts as received */
	int64_t decided;
	uint32_t cases;            /* first case + 1, or 0 */
};

/* One assisting opinion asked (ASSIST_REQUESTED), and when delivered. */
struct ask {
	uint8_t id[PB_ID_LEN];
	uint64_t queue_h;
	int64_t asked, due, delivered;
};

struct book {
	struct au_idtab msgs;      /* struct msg */
	struct ask *asks;
	size_t nasks, capasks;
	int64_t as_of;
	struct rcase *cases;
	size_t ncases, capcases;
	struct au_judge judge;     /* the channel counts, as of the instant judged */
	struct au_report *rep;     /* report channels: its satisfaction rows */
	struct au_idtab sat;       /* their per-message state */
};

static struct msg *find_or_add(struct book *b, const uint8_t *id)
{
	int added;
	struct msg *m = au_idtab_get(&b->msgs, id, &added);

	if (m && added)
		m->kind = m->outcome = -1;
	return m;
}

static int channel_index(int channel)
{
	switch (channel) {
	case MAILROOM__CHANNEL__CHANNEL_MAILBOX: return 0;
	case MAILROOM__CHANNEL__CHANNEL_CONSULTATION: return 1;
	case MAILROOM__CHANNEL__CHANNEL_COMPLAINT: return 2;
	case MAILROOM__CHANNEL__CHANNEL_HOTLINE: return 3;
	case MAILROOM__CHANNEL__CHANNEL_PETITION: return 4;
	case MAILROOM__CHANNEL__CHANNEL_DISCLOSURE: return 5;
	default: return -1;
	}
}

/* The last REVIEW_RECORDED naming a case replaces what the one before
 * said. */
static int review(struct book *b, struct msg *m, const Mailroom__ReviewCase *c)
{
	struct rcase *rc = NULL;
	int kind = au_code_index(pb_disc_review_kinds, AU_NREVIEW_KINDS, c ? c->kind : NULL);
	int result = au_code_index(pb_disc_results, AU_NRESULTS, c ? c->result : NULL);
	char kbuf[2 * ST_HASH_LEN + 1];
	const char *case_no = c ? au_case_key(c, kbuf) : NULL;

	if (!case_no || kind < 0 || result < 0)
		return PB_OK;   /* verification refused these already */
	for (uint32_t k = m->cases; k; k = b->cases[k - 1].next)
		if (strcmp(b->cases[k - 1].case_no, case_no) == 0) {
			rc = &b->cases[k - 1];
			break;
		}
	if (!rc) {
		if (b->ncases == b->capcases) {
			size_t cap = b->capcases ? b->capcases * 2 : 64;
			struct rcase *p = realloc(b->cases, cap * sizeof(*p));
			if (!p)
				return PB_ENOMEM;
			b->cases = p;
			b->capcases = cap;
		}
		rc = &b->cases[b->ncases];
		memset(rc, 0, sizeof(*rc));
		if (!(rc->case_no = strdup(case_no)))
			return PB_ENOMEM;
		rc->next = m->cases;
		m->cases = (uint32_t)++b->ncases;
	}
	rc->kind = kind;
	rc->result = result;
	rc->filed = c->filed_ms;
	rc->decided = c->decided_ms;
	return PB_OK;
}

/* FNV-1a: queue names are compared, never kept. */
static uint64_t queue_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; s && *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

/* 协办: ASSIST_REQUESTED adds an ask, OPINION_DELIVERED ends the
 * message's pending ask of its queue. */
static int assist_record(struct book *b, const Mailroom__AuditRecord *r, int64_t t)
{
	uint64_t q = queue_hash(r->assist_queue);

	if (t > b->as_of)
		return PB_OK;
	if (r->event == EV(OPINION_DELIVERED)) {
		for (size_t i = b->nasks; i-- > 0;)
			if (!b->asks[i].delivered && b->asks[i].queue_h == q &&
			    memcmp(b->asks[i].id, r->message_id.data, PB_ID_LEN) == 0) {
				b->asks[i].delivered = t;
				break;
			}
		return PB_OK;
	}
	if (b->nasks == b->capasks) {
		size_t cap = b->capasks ? b->capasks * 2 : 64;
		struct ask *p = realloc(b->asks, cap * sizeof(*p));
		if (!p)
			return PB_ENOMEM;
		b->asks = p;
		b->capasks = cap;
	}
	struct ask *a = &b->asks[b->nasks++];
	memcpy(a->id, r->message_id.data, PB_ID_LEN);
	a->queue_h = q;
	a->asked = t;
	a->due = r->party_due_ms;
	a->delivered = 0;
	return PB_OK;
}

static int record(struct book *b, const Mailroom__AuditRecord *r)
{
	struct msg *m;
	int64_t t = au_when(r);
	int rc;

	if ((rc = au_judge_record(&b->judge, r)))
		return rc;
	if (!b->rep->annual && (rc = au_sat_record(b->rep, &b->sat, r)))
		return rc;
	if (r->message_id.len != PB_ID_LEN)
		return PB_OK;
	if ((r->event == EV(ASSIST_REQUESTED) || r->event == EV(OPINION_DELIVERED)) &&
	    (rc = assist_record(b, r, t)))
		return rc;
	/* Tables 三 and 四 are about applications only. */
	if (r->event == EV(RECEIVED) && r->channel == MAILROOM__CHANNEL__CHANNEL_DISCLOSURE) {
		if (!(m = find_or_add(b, r->message_id.data)))
			return PB_ENOMEM;
	} else if (!(m = au_idtab_find(&b->msgs, r->message_id.data))) {
		return PB_OK;
	}
	switch ((int)r->event) {
	case EV(RECEIVED):
		if (m->received)
			break;
		m->received = 1;
		m->kind = (int8_t)au_code_index(pb_disc_kinds, AU_NKINDS, r->applicant_kind);
		m->receipt = r->receipt_ms;
		break;
	case EV(RECEIPT_CONFIRMED):
		m->receipt = r->receipt_ms;
		break;
	case EV(DECIDED):
		m->outcome = (int8_t)au_code_index(pb_disc_outcomes, AU_NOUTCOMES, r->outcome);
		m->decided = t;
		break;
	case EV(REVIEW_RECORDED):
		return review(b, m, r->review);
	}
	return PB_OK;
}

static void count_s3(struct au_report *rep, const struct msg *m, int32_t ys, int32_t ye,
                     unsigned *counted)
{
	int32_t rd = pb_day_of_ms(m->receipt);
	int dec = m->outcome >= 0;
	int32_t dd = dec ? pb_day_of_ms(m->decided) : 0;
	int k = m->kind;

	/* Each row is counted by its own definition: the checks compare. */
	if (rd >= ys && rd <= ye) {
		rep->s3[AU_S3_NEW][k]++;
		rep->s3[AU_S3_NEW][AU_NKINDS]++;
	}
	if (rd < ys && !(dec && dd < ys)) {
		rep->s3[AU_S3_CARRIED_IN][k]++;
		rep->s3[AU_S3_CARRIED_IN][AU_NKINDS]++;
	}
	if (dec && dd >= ys && dd <= ye) {
		rep->s3[AU_S3_OUTCOME0 + m->outcome][k]++;
		rep->s3[AU_S3_OUTCOME0 + m->outcome][AU_NKINDS]++;
		rep->s3[AU_S3_TOTAL][k]++;
		rep->s3[AU_S3_TOTAL][AU_NKINDS]++;
		(*counted)++;
	}
	if (rd <= ye && !(dec && dd <= ye)) {
		rep->s3[AU_S3_CARRIED_OUT][k]++;
		rep->s3[AU_S3_CARRIED_OUT][AU_NKINDS]++;
	}
}

/* A case counts in the year when filed by its end and not decided before
 * it; in its result's column when decided within it, else pending. */
static void count_s4(struct au_report *rep, const struct rcase *c, int32_t ys, int32_t ye)
{
	int pending = c->result == AU_RESULT_PENDING || !c->decided;
	int32_t dd = pending ? 0 : pb_day_of_ms(c->decided);
	int col;

	if (pb_day_of_ms(c->filed) > ye || (!pending && dd < ys))
		return;
	col = !pending && dd <= ye ? c->result : AU_RESULT_PENDING;
	rep->s4[c->kind][col]++;
	rep->s4[c->kind][AU_NRESULTS]++;
}

/* Messages received in the range, by their reply clock as judged at
 * the range's end (or now, when that is earlier). */
static void count_channel(struct au_report *rep, const struct au_judge *j,
                          const struct au_jmsg *m)
{
	int ch = channel_index(m->channel);
	int32_t rd = pb_day_of_ms(m->receipt);
	enum au_jstate st;
	uint64_t *c;

	if (ch < 0 || rd < rep->from || rd > rep->to)
		return;
	c = rep->ch[ch];
	st = au_judge_clock(j, m, &m->reply, NULL);
	c[AU_CH_RECEIVED]++;
	c[AU_CH_ANSWERED] += st == AU_J_ON_TIME || st == AU_J_LATE;
	c[AU_CH_ON_TIME] += st == AU_J_ON_TIME;
	c[AU_CH_OPEN] += st == AU_J_OPEN || st == AU_J_OPEN_OVERDUE;
	c[AU_CH_OVERDUE] += au_judge_overdue(st);
}

static void tables(struct au_report *rep, const struct book *b)
{
	int32_t ys = rep->from, ye = rep->to;
	unsigned counted, twice = 0;
	uint64_t sum;

	for (size_t i = 0; i < au_judge_count(&b->judge); i++) {
		const struct au_jmsg *m = au_judge_at(&b->judge, i);
		if (m->received)
			count_channel(rep, &b->judge, m);
	}
	/* 协办, asked in the range: delivered by its due or after it; not
	 * delivered and past it at the instant judged; or still due. */
	for (size_t i = 0; i < b->nasks; i++) {
		const struct ask *a = &b->asks[i];
		int32_t d = pb_day_of_ms(a->asked);
		if (d < ys || d > ye)
			continue;
		rep->assist[AU_AS_ASKED]++;
		if (a->delivered)
			rep->assist[a->delivered <= a->due ? AU_AS_ON_TIME : AU_AS_LATE]++;
		else
			rep->assist[rep->as_of > a->due ? AU_AS_OVERDUE : AU_AS_OPEN]++;
	}
	for (size_t i = 0; rep->annual && i < b->msgs.n; i++) {
		const struct msg *m = au_idtab_at(&b->msgs, i);
		if (!m->received || m->kind < 0)
			continue;
		counted = 0;
		count_s3(rep, m, ys, ye, &counted);
		twice += counted > 1;
		for (uint32_t k = m->cases; k; k = b->cases[k - 1].next)
			count_s4(rep, &b->cases[k - 1], ys, ye);
	}
	if (!rep->annual)
		return;
	for (int o = 0; o < AU_NOUTCOMES; o++)
		for (int k = 0; k < AU_S3_COLS; k++)
			rep->groups[au_outcome_group[o]][k] += rep->s3[AU_S3_OUTCOME0 + o][k];
	for (int i = 0; i < AU_NCHECKS; i++)
		rep->ok[i] = 1;
	for (int k = 0; k < AU_S3_COLS; k++) {
		if (rep->s3[AU_S3_NEW][k] + rep->s3[AU_S3_CARRIED_IN][k] !=
		    rep->s3[AU_S3_TOTAL][k] + rep->s3[AU_S3_CARRIED_OUT][k])
			rep->ok[0] = 0;
		sum = 0;
		for (int o = 0; o < AU_NOUTCOMES; o++)
			sum += rep->s3[AU_S3_OUTCOME0 + o][k];
		if (sum != rep->s3[AU_S3_TOTAL][k])
			rep->ok[1] = 0;
	}
	for (int row = 0; row < AU_S3_ROWS; row++) {
		sum = 0;
		for (int k = 0; k < AU_NKINDS; k++)
			sum += rep->s3[row][k];
		if (sum != rep->s3[row][AU_NKINDS])
			rep->ok[2] = 0;
	}
	rep->ok[3] = twice == 0;
}

static void book_free(struct book *b)
{
	for (size_t i = 0; i < b->ncases; i++)
		free(b->cases[i].case_no);
	free(b->cases);
	free(b->asks);
	au_idtab_free(&b->msgs);
	au_idtab_free(&b->sat);
	au_judge_free(&b->judge);
}

int au_report_compute(const struct au_src *s, struct au_report *rep)
{
	struct book b = {.msgs = AU_IDTAB_INIT(struct msg), .rep = rep,
	                 .sat = {NULL, au_sat_msg_size(), 0, 0, NULL, 0}};
	int rc = PB_OK;

	au_report_free(rep);
	memset(rep->s3, 0, sizeof(rep->s3));
	memset(rep->groups, 0, sizeof(rep->groups));
	memset(rep->s4, 0, sizeof(rep->s4));
	memset(rep->ch, 0, sizeof(rep->ch));
	memset(rep->assist, 0, sizeof(rep->assist));
	/* Judged at the range's end, the instant a deadline on its last day
	 * falls; a range that ends after now is judged as of now: what is not
	 * yet due cannot be overdue. */
	rep->as_of = cal_end_of_day_ms(rep->to);
	if (rep->now && rep->now < rep->as_of)
		rep->as_of = rep->now;
	au_judge_init(&b.judge, rep->as_of);
	b.as_of = rep->as_of;
	for (uint64_t i = 0; i < s->size && rc == PB_OK; i++) {
		Mailroom__AuditRecord *r;
		const uint8_t *d;
		size_t n;
		if ((rc = au_src_get(s, i, &d, &n)))
			break;
		if (n == 0 || !(r = mailroom__audit_record__unpack(NULL, n, d))) {
			rc = PB_ECORRUPT;
			break;
		}
		rc = record(&b, r);
		mailroom__audit_record__free_unpacked(r, NULL);
	}
	if (rc == PB_OK) {
		tables(rep, &b);
		au_sat_finish(rep);
	}
	book_free(&b);
	return rc;
}
