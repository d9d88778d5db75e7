// The handler console: a key made and kept in this browser (WebCrypto
// Ed25519, non-extractable, in IndexedDB), and every request signed with
// it as an HTTP Message Signature (RFC 9421; docs/handler-api.md). The
// router verifies each signature; this page holds no other credential.
// Every action is a form with data-action naming a row of ACTIONS; its
// fields' names are the API's body fields.
"use strict";

const $ = (id) => document.getElementById(id);
const enc = new TextEncoder();
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));

// The router's error codes in plain Chinese (docs/handler-api.md, "Errors").
const ERRORS = {
  unavailable: "系统暂时不可用，请稍后重试。",
  network: "系统暂时不可用，请稍后重试。",
  no_key: "本浏览器还没有密钥，请先生成密钥。",
  unauthenticated: "本浏览器的密钥尚未登记或已停用，请联系管理员。",
  invalid_signature: "请求签名有误，请刷新页面后重试。",
  digest_mismatch: "请求在传输中被改动，请重试。",
  stale: "本机时间与服务器相差太多，请校准电脑时间后重试。",
  replay: "请求重复，请重试。",
  forbidden: "您没有这项权限。",
  queue_forbidden: "您没有办理该队列的权限。",
  method_not_allowed: "不支持此操作。",
  not_found: "找不到此件，可能已转到其他部门。",
  attachment_pending: "这个文件还在病毒检查中，检查通过后才能打开。",
  attachment_infected: "这个文件检出病毒，已隔离，不能打开。",
  attachment_damaged: "存储的文件缺失或损坏，请联系管理员。",
  too_large: "内容太长。",
  invalid_json: "请求格式有误，请刷新页面后重试。",
  unknown_field: "请求格式有误，请刷新页面后重试。",
  missing_field: "请把必填项填写完整。",
  invalid_field: "填写的内容不符合要求，请检查。",
  invalid_range: "数字超出允许的范围。",
  invalid_time: "日期不正确，请按“年-月-日”填写。",
  invalid_words: "关键词太多或太长：最多 16 个词。",
  invalid_range: "开始日期须早于结束日期。",
  search_unavailable: "查找暂时不可用，请稍后重试。",
  search_building: "查找索引正在建立，请稍后重试。",
  invalid_lease: "租约有误，请重新领取。",
  invalid_id: "编号有误。",
  invalid_request: "请求不完整，请检查填写的内容。",
  lease_invalid: "您已不再持有此件（租约已到期或已被他人领取）。可重新领取。",
  lease_expired: "租约已到期，此件已回到队列。可重新领取。",
  already_answered: "此件已经答复。",
  hotline_order: "12345 转办件不能并入其他来信。",
  already_merged: "此件已并入其他来信。",
  is_primary: "已有来信并入此件，请先取消合并。",
  leased_by_other: "此件正由其他人员办理。",
  assist_pending: "还有协办意见未反馈；请等待，或写明不等待的理由。",
  already_asked: "该部门的协办意见尚未反馈。",
  too_many_assists: "协办部门已达上限。",
  not_asked: "没有请该部门协办此件。",
  unknown_queue: "没有这个队列。",
  same_queue: "此件已在该队列。",
  revoked: "此件已被 12345 撤回。",
  no_clock: "此件没有在计时。",
  hour_clock: "按小时计的时限不能这样调整。",
  already_paused: "计时已经暂停。",
  not_paused: "计时没有暂停，无需恢复。",
  extension_cap: "延期已达到规定的上限。",
  use_disclosure_steps: "依申请公开件请使用“依申请公开办理步骤”。",
  not_disclosure: "此件不是依申请公开件。",
  invalid_outcome: "请选择办理结果。",
  legal_basis_required: "这种办理结果须写明法律依据。",
  receipt_unconfirmed: "请先确认收到申请的日期。",
  receipt_confirmed: "收到日期已经确认过。",
  correction_asked: "已经要求补正，正在等待申请人。",
  no_correction_asked: "没有要求过补正。",
  correction_not_overdue: "补正期限未到。",
  awaiting_correction: "正在等待申请人补正。",
  awaiting_fee: "正在等待申请人缴费。",
  no_fee_notice: "没有发出过收费通知。",
  fee_not_overdue: "缴费期限未到。",
  consultation_open: "征求第三方意见尚未结束。",
  no_consultation: "没有正在进行的征求意见。",
  already_decided: "此申请已经作出决定。",
  not_decided: "此申请还没有作出决定。",
  review_mismatch: "复议或诉讼信息与已登记的不一致。",
  review_closed: "该复议或诉讼已经审结。",
  repeat_decided: "重复申请已经判定过。",
  not_flagged: "此件没有被标为可能重复。",
  invalid_channel: "不能转到这个渠道。",
  legal_basis_required: "依申请公开转出需要填写法律依据。",
  not_hotline: "此件不是 12345 转办件。",
  already_signed: "已经签收。",
  not_signed: "请先签收。",
  already_finished: "已经办结。",
  returned: "此件已退单。",
  unsupported_kind: "这类 12345 工单不支持此操作。",
  no_callback: "此件没有待登记的回访。",
  not_replied: "此件还没有答复。",
  not_published: "此件没有公开。",
  contact_in_text: "公开的内容里有来信人的姓名、电话或邮箱，请删去后再公开。",
  not_merged: "此件没有并入其他来信。",
  primary_closed: "主件已经答复或办结，不能再取消并单。",
  same_message: "不能把此件并入它自己。",
  queue_required: "请选择以哪个队列反馈。",
  use_petition_steps: "信访件请使用“信访件办理步骤”。",
  not_accepted_yet: "此信访件尚未受理。",
  not_accepted: "此信访件未予受理。",
  not_in_handling: "此信访件当前不在办理阶段。",
  not_answered: "此信访件还没有出具办理意见。",
  no_review_answer: "复查意见尚未出具，不能登记复核请求。",
  review_window_passed: "已超过 30 日的请求期限。",
};

const STATUS = { queued: "待领取", leased: "办理中", replied: "已答复", closed: "已办结" };
const CHANNEL = { mailbox: "局长信箱", consultation: "在线咨询", complaint: "监督投诉", hotline: "12345 转办", disclosure: "依申请公开", petition: "信访转办" };
const STEP = { none: "", due_soon: "将到期", overdue: "已超期", seriously_overdue: "严重超期" };
const LEVEL = { very_satisfied: "非常满意", satisfied: "满意", basically_satisfied: "基本满意", dissatisfied: "不满意", very_dissatisfied: "非常不满意" };
const EVENT = {
  received: "收到", routed: "分派", leased: "领取", lease_renewed: "延长租约", lease_expired: "租约到期",
  released: "退回队列", replied: "答复", transferred: "转办", duplicate: "重复提交",
  clock_paused: "暂停计时", clock_resumed: "恢复计时", clock_restarted: "重新计时",
  clock_extended: "延期", clock_recomputed: "按新日历重算", due_soon: "将到期", overdue: "超期",
  seriously_overdue: "严重超期", redispatched: "12345 重新派单", revoked: "12345 撤回", urged: "催办",
  order_refused: "拒收", signed: "签收", returned: "退单", extension_requested: "申请延期",
  citizen_replied: "市民回复", receipt_confirmed: "确认收到", correction_requested: "要求补正",
  correction_received: "收到补正", consultation_started: "征求意见", consultation_ended: "征求意见结束",
  fee_notice: "收费通知", fee_paid: "已缴费", decided: "作出决定", delivered: "送达",
  review_recorded: "登记复议或诉讼", repeat_flagged: "可能重复", repeat_decided: "重复判定",
  returned_to_dispatch: "退回分派", referred: "转其他渠道办理", rated: "市民评价", callback_opened: "待回访", callback_done: "回访",
  reopened: "重新办理", published: "公开答复", unpublished: "撤下公开答复", veto_alert: "超期预警（单项否决）",
  rating_invited: "邀请评价",
  merged: "并入他件", merge_settled: "并单后确定时限", unmerged: "取消并单", assist_requested: "请求协办",
  opinion_delivered: "反馈协办意见", assist_overridden: "未等协办意见即答复",
  petition_accepted: "受理告知", petition_not_accepted: "不予受理告知", petition_extended: "延长办理期限",
  petition_answered: "出具办理意见", petition_review: "请求复查或复核",
};
// A petition's stage (docs/petition-transfer.md).
const STAGE = {
  received: "待受理", accepted: "已受理，办理中", not_accepted: "不予受理", answered: "已出具办理意见",
  review: "复查中", review_answered: "已出具复查意见", rereview: "复核中", rereview_answered: "已出具复核意见",
};
// The 21 outcome codes (proto/base/pb_disc.c) with the annual report's labels.
const OUTCOMES = [
  ["disclosed", "予以公开"], ["partly_disclosed", "部分公开"],
  ["withheld.state_secret", "不予公开·属于国家秘密"],
  ["withheld.prohibited_by_law", "不予公开·其他法律行政法规禁止公开"],
  ["withheld.three_safeties_one_stability", "不予公开·危及“三安全一稳定”"],
  ["withheld.third_party_rights", "不予公开·保护第三方合法权益"],
  ["withheld.internal_affairs", "不予公开·属于三类内部事务信息"],
  ["withheld.process_information", "不予公开·属于四类过程性信息"],
  ["withheld.enforcement_file", "不予公开·属于行政执法案卷"],
  ["withheld.inquiry_matter", "不予公开·属于行政查询事项"],
  ["unavailable.not_held", "无法提供·本机关不掌握相关政府信息"],
  ["unavailable.needs_creation", "无法提供·没有现成信息需要另行制作"],
  ["unavailable.unclear_after_correction", "无法提供·补正后申请内容仍不明确"],
  ["not_processed.petition_complaint", "不予处理·信访举报投诉类申请"],
  ["not_processed.repeated", "不予处理·重复申请"],
  ["not_processed.publication", "不予处理·要求提供公开出版物"],
  ["not_processed.excessive", "不予处理·无正当理由大量反复申请"],
  ["not_processed.confirm_or_reissue", "不予处理·要求确认或重新出具已获取信息"],
  ["other.no_correction", "其他处理·逾期不补正"],
  ["other.fee_unpaid", "其他处理·逾期未缴纳费用"],
  ["other.other", "其他处理·其他"],
];

// path: under messages/{id}/; lease: send the held lease; done: what the
// page says; numbers: fields sent as integers.
// A row with a group is also its form, built into that group's
// <div class="forms" data-group> (buildForms): title, note, fields (each
// with its label; tag when not an input, options of a select, any other
// key an attribute), button (primary: the group's main step), and when:
// the petition stages in which it shows. Forms with text of their own
// around the fields (reply, refer, opinion, after the answer) are in
// index.html.
// The fields many forms share.
const reason = (id, label = "理由") => ({ id, name: "reason", label, maxlength: 500, required: true });
const approver = (id) => ({ id, name: "approver", label: "批准人", maxlength: 100, required: true });

const ACTIONS = {
  transfer: {
    path: "transfer", lease: true, done: "已转办。",
    group: "transfer",
    fields: [
      { id: "t-to", name: "to", label: "转到队列", list: "queue-names", autocomplete: "off", required: true },
      reason("t-reason", "转办理由"),
    ],
    button: "转办",
  },
  merge: {
    path: "merge", done: "已并单，答复时限已更新。", lists: ["refs"], flags: ["keep_deadline"],
    group: "case", title: "并单：把同一事项的来信并入此件",
    fields: [
      { id: "m-refs", name: "refs", label: "并入的查询码（多个用逗号分隔）", autocomplete: "off", required: true },
      { id: "m-keep", name: "keep_deadline", label: "保留此件原答复时限（默认取各件中最早的时限）", type: "checkbox", value: "true" },
      reason("m-reason"),
    ],
    button: "并单",
  },
  assist: {
    path: "assist", done: "已请求协办。", numbers: ["working_days"],
    group: "case", title: "请其他部门协办",
    fields: [
      { id: "a-queue", name: "queue", label: "协办队列", list: "queue-names", autocomplete: "off", required: true },
      { id: "a-days", name: "working_days", label: "反馈期限（工作日，可不填，默认按配置）", type: "number", min: 1, max: 60 },
      reason("a-reason"),
    ],
    button: "请求协办",
  },
  "plain-repeat": {
    path: "repeat", done: "已登记判定。",
    group: "repeat",
    fields: [
      { id: "q-repeat", name: "decision", label: "判定", tag: "select", required: true, options: [["dismissed", "不属于重复"], ["confirmed", "确属重复"]] },
    ],
    button: "登记判定",
  },
  pause: {
    path: "pause", done: "已暂停计时。",
    group: "clock", title: "暂停计时",
    fields: [
      reason("p-reason"),
    ],
    button: "暂停计时",
  },
  resume: {
    path: "resume", done: "已恢复计时。",
    group: "clock", title: "恢复计时",
    fields: [
      reason("r-reason"),
    ],
    button: "恢复计时",
  },
  extend: {
    path: "extend", done: "已延期，答复时限已更新。", numbers: ["working_days"],
    group: "clock", title: "延期",
    fields: [
      { id: "e-days", name: "working_days", label: "延长工作日数", type: "number", min: 1, max: 366, required: true },
      approver("e-approver"),
      reason("e-reason"),
    ],
    button: "延期",
  },
  restart: {
    path: "restart", done: "已重新计时。",
    group: "clock", title: "补正后重新计时",
    fields: [
      reason("s-reason"),
      { id: "s-at", name: "received_at", label: "重新起算日期（可不填，默认今天）", type: "date" },
    ],
    button: "重新计时",
  },
  "confirm-receipt": {
    path: "disclosure/confirm-receipt", done: "已确认收到日期。",
    group: "disclosure", title: "确认收到申请",
    fields: [
      { id: "d-date", name: "date", label: "收到日期", type: "date", required: true },
      { id: "d-evidence", name: "evidence", label: "凭据（如挂号信签收单号）", maxlength: 500 },
    ],
    button: "确认收到",
  },
  "request-correction": {
    path: "disclosure/request-correction", done: "已要求补正。",
    group: "disclosure", title: "要求补正",
    fields: [
      { id: "d-corr", name: "text", label: "需补正的内容", tag: "textarea", rows: 3, required: true },
    ],
    button: "发出补正通知",
  },
  "correction-received": {
    path: "disclosure/correction-received", done: "已登记补正。",
    group: "disclosure", title: "收到补正",
    fields: [
      { id: "d-cdate", name: "date", label: "收到补正的日期", type: "date", required: true },
    ],
    button: "登记补正",
  },
  consult: {
    path: "disclosure/consult", done: "已开始征求意见。",
    group: "disclosure", title: "征求第三方意见",
    fields: [
      { id: "d-party", name: "party", label: "第三方", maxlength: 200, required: true },
    ],
    button: "开始征求意见",
  },
  "consult-done": {
    path: "disclosure/consult-done", done: "征求意见已结束。",
    group: "disclosure", title: "征求意见结束",
    button: "征求意见结束",
  },
  "d-extend": {
    path: "disclosure/extend", done: "已延长答复期限。", numbers: ["days"],
    group: "disclosure", title: "延长答复期限",
    fields: [
      { id: "d-days", name: "days", label: "延长日数", type: "number", min: 1, max: 366, required: true },
      approver("d-approver"),
      reason("d-reason"),
    ],
    button: "延长期限",
  },
  "fee-notice": {
    path: "disclosure/fee-notice", done: "已发出收费通知。",
    group: "disclosure", title: "收费通知",
    fields: [
      { id: "d-fee", name: "text", label: "通知内容", tag: "textarea", rows: 3, required: true },
    ],
    button: "发出收费通知",
  },
  "fee-paid": {
    path: "disclosure/fee-paid", done: "已登记缴费。",
    group: "disclosure", title: "已缴费",
    button: "登记已缴费",
  },
  decide: {
    path: "disclosure/decide", lease: true, done: "已作出决定。",
    group: "disclosure", title: "作出答复决定",
    fields: [
      { id: "d-outcome", name: "outcome", label: "办理结果", tag: "select", required: true, options: [["", "请选择"], ...OUTCOMES] },
      { id: "d-basis", name: "legal_basis", label: "法律依据", maxlength: 500 },
      { id: "d-text", name: "text", label: "答复内容", tag: "textarea", rows: 4, required: true },
    ],
    button: "作出决定", primary: true,
  },
  deliver: {
    path: "disclosure/deliver", done: "已登记送达。",
    group: "disclosure", title: "送达",
    fields: [
      { id: "d-dev", name: "evidence", label: "送达凭据", maxlength: 500, required: true },
    ],
    button: "登记送达",
  },
  review: {
    path: "disclosure/review", done: "已登记复议或诉讼。",
    group: "disclosure", title: "复议或诉讼",
    fields: [
      { id: "d-kind", name: "review.kind", label: "类别", tag: "select", required: true, options: [["review", "行政复议"], ["litigation_direct", "直接起诉"], ["litigation_after_review", "复议后起诉"]] },
      { id: "d-case", name: "review.case_no", label: "案号", maxlength: 100, required: true },
      { id: "d-filed", name: "review.filed", label: "立案日期", type: "date", required: true },
      { id: "d-result", name: "review.result", label: "结果", tag: "select", required: true, options: [["pending", "尚未审结"], ["upheld", "维持"], ["corrected", "纠正"], ["other", "其他"]] },
      { id: "d-decided", name: "review.decided", label: "审结日期（未审结可不填）", type: "date" },
    ],
    button: "登记",
  },
  repeat: {
    path: "disclosure/repeat", done: "已登记判定。",
    group: "disclosure", title: "重复申请判定",
    fields: [
      { id: "d-repeat", name: "decision", label: "判定", tag: "select", required: true, options: [["confirmed", "确属重复申请"], ["dismissed", "不属于重复申请"]] },
    ],
    button: "登记判定",
  },
  "p-accept": {
    path: "petition/accept", lease: true, done: "已受理，答复期限已重新计算。",
    group: "petition", title: "受理告知",
    note: "告知信访人已受理。答复期限自受理时起重新计算。",
    when: (p) => p.stage === "received",
    button: "受理", primary: true,
  },
  "p-not-accept": {
    path: "petition/not-accept", lease: true, done: "已告知不予受理。",
    group: "petition", title: "不予受理告知",
    when: (p) => p.stage === "received",
    fields: [
      { id: "pn-text", name: "text", label: "告知信访人不予受理的理由", tag: "textarea", rows: 3, maxlength: 10000, required: true },
    ],
    button: "不予受理",
  },
  "p-answer": {
    path: "petition/answer", lease: true, done: "已出具办理意见。",
    group: "petition", title: "出具办理意见",
    when: (p) => ["accepted", "review", "rereview"].includes(p.stage),
    fields: [
      { id: "pa-text", name: "text", label: "办理意见", tag: "textarea", rows: 6, maxlength: 10000, required: true },
    ],
    button: "出具办理意见", primary: true,
  },
  "p-extend": {
    path: "petition/extend", done: "已延长办理期限。", numbers: ["days"],
    group: "petition", title: "延长办理期限",
    when: (p) => p.stage === "accepted" && !p.extensions,
    fields: [
      { id: "pe-days", name: "days", label: "延长天数（自然日，只能延长一次）", type: "number", min: 1, max: 366, required: true },
      approver("pe-approver"),
      reason("pe-reason"),
    ],
    button: "延期",
  },
  sign: {
    path: "sign", lease: true, done: "已签收。",
    group: "hotline", title: "签收",
    button: "签收",
  },
  finish: {
    path: "finish", lease: true, done: "已办结。",
    group: "hotline", title: "办结",
    fields: [
      { id: "h-finish", name: "text", label: "答复市民的内容", tag: "textarea", rows: 4, required: true },
    ],
    button: "办结", primary: true,
  },
  return: {
    path: "return", lease: true, done: "已退单。",
    group: "hotline", title: "退单",
    fields: [
      { id: "h-code", name: "reason_code", label: "退单理由代码", maxlength: 40, required: true },
      { id: "h-basis", name: "text", label: "退单依据", tag: "textarea", rows: 3, required: true },
    ],
    button: "退单",
  },
  "extension-request": {
    path: "extension-request", done: "已提出延期申请。",
    group: "hotline", title: "延期申请",
    fields: [
      { id: "h-until", name: "until", label: "申请延至", type: "date", required: true },
      { id: "h-why", name: "text", label: "理由", tag: "textarea", rows: 3, required: true },
    ],
    button: "提出延期申请",
  },
  reply: { path: "reply", lease: true, done: "已答复。" },
  refer: { path: "refer", lease: true, done: "已转入其他渠道，新件的查询码见“已转为”。" },
  callback: { path: "callback", done: "已登记回访结果。", bools: ["reached", "resolved", "reopen"] },
  publish: { path: "publish", done: "已公开。" },
  unmerge: { path: "unmerge", done: "已取消并单，此件回到队列。" },
  // stay: the asked queue's handler keeps the case in view though it is not in her queues
  opinion: { path: "opinion", done: "已提交协办意见。", stay: true },
  "p-review": { path: "petition/review", done: "已登记复查请求，此件回到队列。" },
  "p-rereview": { path: "petition/rereview", done: "已登记复核请求，此件回到队列。" },
  unpublish: { path: "unpublish", done: "已撤下。" },
};

let current = null;     // the message shown: {id, queue, lease, expires, from}
let myQueues = [];
let leaseTimer = null;
let lastLoad = null;    // what the retry button redoes

class ApiError extends Error {
  constructor(code, status) { super(ERRORS[code] || `操作未能完成，请联系管理员（错误代码 ${code}）。`); this.code = code; this.status = status; }
}

function say(text) {
  $("status").textContent = text;
}

// The router away: one calm notice with a retry; nothing typed is touched.
function away(on) {
  $("away").hidden = !on;
}

const time = (t) => (t ? t.slice(0, 16).replace("T", " ") : "");

function store(mode, fn) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("mailroom-console", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("keys");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const req = fn(open.result.transaction("keys", mode).objectStore("keys"));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    };
  });
}

const loadKey = () => store("readonly", (s) => s.get("handler"));
const saveKey = (k) => store("readwrite", (s) => s.put(k, "handler"));

async function call(method, path, body) {
  const key = await loadKey();
  if (!key) throw new ApiError("no_key", 0);
  const bytes = body === undefined ? null : enc.encode(JSON.stringify(body));
  const created = Math.floor(Date.now() / 1000);
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  const comps = ['"@method"', '"@path"'];
  const lines = [`"@method": ${method}`, `"@path": ${path}`];
  const headers = {};
  if (bytes) {
    const digest = `sha-256=:${b64(await crypto.subtle.digest("SHA-256", bytes))}:`;
    comps.push('"content-digest"');
    lines.push(`"content-digest": ${digest}`);
    headers["Content-Digest"] = digest;
    headers["Content-Type"] = "application/json";
  }
  const params = `(${comps.join(" ")});created=${created};keyid="${key.keyid}";nonce="${nonce}";alg="ed25519"`;
  lines.push(`"@signature-params": ${params}`);
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, enc.encode(lines.join("\n")));
  headers["Signature-Input"] = `sig1=${params}`;
  headers["Signature"] = `sig1=:${b64(sig)}:`;
  let resp, doc = null;
  try {
    resp = await fetch(path, { method, headers, body: bytes, credentials: "omit", cache: "no-store" });
    doc = await resp.json().catch(() => null);
  } catch (e) {
    away(true);
    throw new ApiError("network", 0);
  }
  if (resp.status === 503) {
    away(true);
    throw new ApiError("unavailable", 503);
  }
  away(false);
  if (!resp.ok) throw new ApiError(doc && doc.error ? doc.error.code : `http_${resp.status}`, resp.status);
  return doc;
}

// ------------------------------------------------------------- views --

function view(name) {
  say("");
  for (const v of ["work", "supervise", "key"]) $(v).hidden = v !== name;
  for (const b of document.querySelectorAll("#nav button"))
    if (b.dataset.view === name) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  if (name === "work") return load(refresh);
  if (name === "supervise") return load(supervise);
  return Promise.resolve();
}

// Runs a read, remembering it for the retry button; errors go to the status line.
async function load(fn) {
  lastLoad = fn;
  try {
    await fn();
  } catch (e) {
    say(e.message);
  }
}

function showKey(keyid) {
  $("no-key").hidden = true;
  $("make-key").hidden = true;
  $("have-key").hidden = false;
  $("keyid").textContent = keyid;
  $("admin-cmd").textContent = `mailroom-admin handler add 姓名 --key ${keyid} --queues 队列`;
}

async function makeKey() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const keyid = hex(await crypto.subtle.exportKey("raw", pair.publicKey));
  await saveKey({ privateKey: pair.privateKey, keyid });
  showKey(keyid);
  say("密钥已生成。请把公钥交给管理员登记，登记后点“我的队列”。");
  $("nav").hidden = false;
}

function cell(c) {
  const td = document.createElement("td");
  if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined || c === null ? "" : String(c);
  return td;
}

function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const c of cells) tr.appendChild(cell(c));
  return tr;
}

function button(text, label, fn) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (label) b.setAttribute("aria-label", label);
  b.addEventListener("click", fn);
  return b;
}

const warn = (n) => {
  const s = document.createElement("span");
  s.textContent = String(n);
  if (n > 0) s.className = "warn";
  return s;
};

async function refresh() {
  const doc = await call("GET", "/api/v1/queues");
  const body = $("queues");
  body.replaceChildren();
  myQueues = doc.queues.map((q) => q.name);
  const names = $("queue-names");
  names.replaceChildren(...myQueues.map((n) => Object.assign(document.createElement("option"), { value: n })));
  for (const q of doc.queues)
    body.appendChild(row([q.name, q.depth, q.leased, warn(q.due_soon), warn(q.overdue), warn(q.seriously_overdue),
      button("领取下一件", `领取 ${q.name} 的下一件`, () => pull(q.name).catch((e) => say(e.message)))]));
  if (!doc.queues.length) say("您还没有可办理的队列。");
  await owedList();
  if ($("nav-supervise").hidden) await probeSupervise();
}

// The asked queues' opinions still due of this handler's queues.
const owedOf = (m) => (m.assists || []).filter((a) => !a.delivered_at && myQueues.includes(a.queue));

async function owedList() {
  const doc = await call("GET", "/api/v1/assists");
  const body = $("owed");
  body.replaceChildren();
  for (const m of doc.cases) {
    const due = owedOf(m);
    body.appendChild(row([m.tracking_code, m.subject, m.queue, due.map((a) => a.queue).join("、"),
      due.map((a) => time(a.due_at)).join("、"),
      button("查看", `查看 ${m.tracking_code}`, () => trail(m.id).catch((e) => say(e.message)))]));
  }
  $("owed-table").hidden = !doc.cases.length;
  $("owed-none").hidden = doc.cases.length > 0;
  $("owed-partial").hidden = !doc.partial;
}

// The 督办 tab only for handlers the router lets see it.
async function probeSupervise() {
  try {
    await call("GET", "/api/v1/supervise");
    $("nav-supervise").hidden = false;
  } catch (e) {
    if (e.code !== "forbidden") throw e;
  }
}

const rate = (on, all) => (all ? `${Math.round((100 * on) / all)}%（${on}/${all}）` : "—");

async function supervise() {
  const doc = await call("GET", "/api/v1/supervise");
  const deps = $("departments");
  deps.replaceChildren();
  for (const d of doc.departments)
    deps.appendChild(row([d.department, CHANNEL[d.channel] || d.channel, d.open, warn(d.due_soon), warn(d.overdue),
      warn(d.seriously_overdue), rate(d.month_on_time, d.month_answered), rate(d.year_on_time, d.year_answered),
      rate(d.satisfied, d.rated), rate(d.callbacks_done, d.callbacks_owed) +
        (d.callbacks_owed ? `，按时 ${d.callbacks_on_time}` : ""), warn(d.reopened)]));
  const items = $("items");
  items.replaceChildren();
  for (const it of doc.items || [])
    items.appendChild(row([it.tracking_code, it.department, CHANNEL[it.channel] || it.channel, STATUS[it.status] || it.status,
      time(it.reply_due_at), STEP[it.step] || "",
      button("查看经过", `查看 ${it.tracking_code} 的办理经过`, () => trail(it.id).catch((e) => say(e.message)))],
      it.step === "none" ? "" : it.step));
  $("items-partial").hidden = !doc.items_partial;
  const veto = $("veto");
  veto.replaceChildren();
  for (const it of doc.veto || [])
    veto.appendChild(row([it.tracking_code, it.department, CHANNEL[it.channel] || it.channel, time(it.received_at),
      it.alerts >= 2 ? "80 天" : it.alerts === 1 ? "60 天" : "—",
      button("查看经过", `查看 ${it.tracking_code} 的办理经过`, () => trail(it.id).catch((e) => say(e.message)))],
      "seriously_overdue"));
  $("veto-none").hidden = (doc.veto || []).length > 0;
}

// The search box: the same search as mailroom-handler search, over the
// handler's own queues; newest first.
async function search(form) {
  const err = form.querySelector(".err");
  err.textContent = "";
  const q = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") { if (el.checked) q[el.name] = true; } else if (el.value.trim()) q[el.name] = el.value.trim();
  }
  let doc;
  try {
    doc = await call("POST", "/api/v1/search", q);
  } catch (e) {
    err.textContent = e.message;
    return;
  }
  const body = $("results");
  body.replaceChildren();
  for (const m of doc.messages)
    body.appendChild(row([m.tracking_code, m.subject, m.queue, CHANNEL[m.channel] || m.channel, STATUS[m.status] || m.status,
      time(m.received_at), m.overdue ? Object.assign(document.createElement("span"), { className: "warn", textContent: `${time(m.reply_due_at)} 已超期` }) : time(m.reply_due_at),
      button("查看", `查看 ${m.tracking_code}`, () => trail(m.id).catch((e) => say(e.message)))],
      m.overdue ? "overdue" : ""));
  $("results-table").hidden = !doc.messages.length;
  $("results-note").textContent = doc.messages.length
    ? `找到 ${doc.messages.length} 件${doc.more ? "（只列出最新的，请加词缩小范围）" : ""}。`
    : "没有找到符合条件的来信。";
}

// ----------------------------------------------------------- message --

function showLease() {
  clearInterval(leaseTimer);
  const note = $("lease-note");
  if (!current || !current.lease) {
    note.hidden = true;
    return;
  }
  note.hidden = false;
  const tick = () => {
    const left = Math.floor((current.expires - Date.now()) / 1000);
    if (left > 0) {
      $("lease-text").textContent = `此件由您办理中，租约还剩 ${Math.floor(left / 60)} 分 ${left % 60} 秒。请在到期前答复，或延长租约。`;
      $("renew").hidden = false;
      $("pull-again").hidden = true;
    } else {
      leaseLost("租约已到期，此件已回到队列，其他办理人可以领取。已填写的内容仍保留。");
    }
  };
  tick();
  leaseTimer = setInterval(tick, 1000);
}

// The lease is gone (expired, or another handler holds the message now).
function leaseLost(text) {
  clearInterval(leaseTimer);
  say("");
  if (current) current.lease = null;
  $("lease-note").hidden = false;
  $("lease-text").textContent = text;
  $("renew").hidden = true;
  $("pull-again").hidden = false;
}

const KIND = { "image/jpeg": ["JPEG 图片", "jpg"], "image/png": ["PNG 图片", "png"], "application/pdf": ["PDF 文件", "pdf"] };
const SCAN = { pending: "正在病毒检查", clean: "已通过病毒检查", infected: "检出病毒，已隔离" };
const kb = (n) => `${Math.ceil(n / 1024)} KB`;

// A clean file, read in pieces under the router's wire limit and handed
// to the browser as a download; nothing of it is kept here.
async function download(m, f) {
  const parts = [];
  let offset = 0;
  for (;;) {
    const p = await call("POST", `/api/v1/messages/${m.id}/files/${f.n}`, { offset });
    const bytes = Uint8Array.from(atob(p.data), (c) => c.charCodeAt(0));
    parts.push(bytes);
    offset += bytes.length;
    if (p.last) break;
    if (!bytes.length) throw new ApiError("unavailable", 0);
  }
  const url = URL.createObjectURL(new Blob(parts, { type: f.type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `${m.tracking_code}-${f.n + 1}.${(KIND[f.type] || ["", "bin"])[1]}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  say(`附件 ${f.n + 1} 已下载。`);
}

// The citizen's files: kind, size, the scanner's verdict, and a
// download button for a clean one.
function showFiles(m) {
  const ul = $("files");
  ul.replaceChildren();
  for (const f of m.attachments || []) {
    const li = document.createElement("li");
    const kind = (KIND[f.type] || [f.type])[0];
    li.textContent = `附件 ${f.n + 1}：${kind}，${kb(f.size)}，${SCAN[f.scan] || f.scan}` +
      (f.found ? `（${f.found}）` : "");
    if (f.scan === "clean") {
      li.append(" ");
      li.appendChild(button("下载", `下载附件 ${f.n + 1}`, () =>
        download(m, f).catch((e) => say(e.message))));
    }
    ul.appendChild(li);
  }
  $("files-box").hidden = !(m.attachments && m.attachments.length);
}

function show(m) {
  const dl = $("message");
  dl.replaceChildren();
  const add = (label, value) => {
    if (value === undefined || value === null || value === "") return;
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = String(value);
    dl.append(dt, dd);
  };
  $("message-h").textContent = `来信 ${m.tracking_code}`;
  add("状态", STATUS[m.status] || m.status);
  add("渠道", CHANNEL[m.channel] || m.channel);
  add("队列", m.queue);
  add("收到", time(m.received_at));
  const p = m.petition;
  add(p ? "受理告知时限" : "签收时限", time(m.ack_due_at));
  add("答复时限", time(m.reply_due_at) + (m.due_provisional ? "（暂定：次年节假日安排尚未公布）" : ""));
  add("标题", m.subject);
  add("内容", m.body);
  if (m.contact) add("联系人", [m.contact.name, m.contact.phone, m.contact.email].filter(Boolean).join("　"));
  if (m.reply) add("答复", m.reply.text);
  if (m.merged_into) add("已并入", m.merged_into);
  if (m.merged) add("并入此件的来信", m.merged.join("、"));
  for (const a of m.assists || [])
    add(`协办：${a.queue}`, a.delivered_at ? `已反馈（${time(a.delivered_at)}）：${a.opinion || ""}` : `反馈期限 ${time(a.due_at)}`);
  const ref = (r) => r && `${r.tracking_code}（${CHANNEL[r.channel] || r.channel}）`;
  add("已转为", ref(m.referred_to));
  add("转自", ref(m.referred_from));
  // A possible repeat: a suggestion with the earlier case, never a refusal.
  const rp = m.repeat || (m.disclosure && m.disclosure.repeat);
  if (rp)
    add("可能重复", `与 ${rp.of_tracking_code || rp.of} 相似（${Math.round(rp.permille / 10)}%）` +
      (rp.decision ? `，已判定：${rp.decision === "confirmed" ? "确属重复" : "不属于重复"}` : "，待判定"));
  if (m.rating) add("市民评价", `${LEVEL[m.rating.level] || m.rating.level}（${time(m.rating.rated_at)}）`);
  if (m.callback)
    add("回访", m.callback.done_at
      ? `${time(m.callback.done_at)} 已回访：${m.callback.reached ? "联系上" : "未联系上"}，${m.callback.resolved ? "已解决" : "未解决"}${m.callback.reopen ? "，重新办理" : ""}`
      : `须在 ${time(m.callback.due_at)} 前回访`);
  if (m.published) add("公开答复", "已公开");
  const h = m.hotline;
  if (h) {
    add("12345 工单", `${h.order_no}（第 ${h.dispatch_seq} 次派单）`);
    add("签收时限（12345）", time(h.sign_due_at));
    add("办结时限（12345）", time(h.finish_due_at));
    if (h.address) add("地址", h.address);
  }
  if (p) {
    add("信访件编号", p.petition_no);
    add("转送机关", p.forwarded_by);
    add("信访阶段", STAGE[p.stage] || p.stage);
    add("受理时间", time(p.accepted_at));
    add("出具意见时间", time(p.answered_at));
    if (p.extensions) add("延期", `已延长办理期限 ${p.extensions} 次`);
    add("复查或复核请求", time(p.review_requested_at));
  }
  const d = m.disclosure;
  if (d) {
    const a = d.applicant;
    if (a) add("申请人", [a.name, a.phone, a.email, a.address].filter(Boolean).join("　"));
    add("申请阶段", { open: "办理中", awaiting_correction: "等待补正", awaiting_fee: "等待缴费", decided: "已决定", delivered: "已送达" }[d.phase] || d.phase);
    add("收到申请日期", d.legal_receipt_date + (d.receipt_confirmed ? "" : "（待确认）"));
    add("补正期限", time(d.correction_due_at));
    add("缴费期限", time(d.fee_due_at));
    const o = OUTCOMES.find((x) => x[0] === d.outcome);
    add("办理结果", o ? o[1] : d.outcome);
    add("法律依据", d.legal_basis);
  }
  showFiles(m);
  const tl = $("timeline");
  tl.replaceChildren();
  for (const s of m.timeline || [])
    tl.appendChild(row([time(s.at), EVENT[s.event] || s.event, s.actor, time(s.reply_due_at)]));
  $("timeline-partial").hidden = !m.timeline_partial;
  // Actions only on a message of one's own queues that is still open.
  const open = m.status === "queued" || m.status === "leased";
  $("actions").hidden = !myQueues.includes(m.queue) || !open;
  $("more-disclosure").hidden = !d;
  $("more-hotline").hidden = !h;
  $("more-refer").hidden = !!h || !!p;
  // A petition takes its own steps, each only in the stage that allows it.
  const stage = p ? p.stage : "";
  $("more-petition").hidden = !p;
  $("more-clock").hidden = !!p;
  for (const [action, spec] of Object.entries(ACTIONS))
    if (spec.when) document.querySelector(`form[data-action="${action}"]`).hidden = !p || !spec.when(p);
  $("more-repeat").hidden = !m.repeat || !!m.repeat.decision;
  $("refer-disclosure").hidden = !d;
  for (const id of ["f-outcome", "f-basis"]) $(id).disabled = !d;
  $("reply-form").hidden = !!d || !!p;
  showOpinion(m, open);
  showAfter(m, open);
  $("message-box").hidden = false;
}

// After the answer: the call-back a bad rating opened, and publishing
// with the original beside the redacted copy the handler edits.
function showAfter(m, open) {
  const cb = m.callback && !m.callback.done_at ? m.callback : null;
  const mine = myQueues.includes(m.queue);
  $("after").hidden = open || (!mine && !(cb && myQueues.includes(cb.queue)));
  $("callback-form").hidden = !cb;
  if (cb) $("callback-due").textContent = time(cb.due_at);
  $("publish-form").hidden = !mine || m.status !== "replied";
  $("unpublish-form").hidden = !mine || !m.published;
  $("unmerge-form").hidden = !mine || !m.merged_into;
  $("unmerge-into").textContent = m.merged_into || "";
  const stage = m.petition ? m.petition.stage : "";
  $("p-review-form").hidden = !mine || stage !== "answered";
  $("p-rereview-form").hidden = !mine || stage !== "review_answered";
  $("orig-subject").textContent = m.subject || "";
  $("orig-body").textContent = m.body || "";
  if (!$("pub-subject").value) $("pub-subject").value = m.subject || "";
  if (!$("pub-body").value) $("pub-body").value = m.body || "";
}

// An asked queue's opinion, for a handler of that queue.
function showOpinion(m, open) {
  const due = open ? owedOf(m) : [];
  $("opinion-box").hidden = !due.length;
  if (!due.length) return;
  const sel = $("o-queue");
  const was = sel.value;
  sel.replaceChildren(...due.map((a) => Object.assign(document.createElement("option"), { value: a.queue, textContent: a.queue })));
  if (due.some((a) => a.queue === was)) sel.value = was;
  $("opinion-due").textContent = due.map((a) => `${a.queue} ${time(a.due_at)}`).join("；");
}

async function detail() {
  const m = (await call("GET", `/api/v1/messages/${current.id}`)).message;
  current.queue = m.queue;
  if (m.status !== "leased") current.lease = null;
  show(m);
  showLease();
}

// A new message: forms empty, every group folded.
function clearForms() {
  for (const d of document.querySelectorAll("#actions details")) d.open = false;
  for (const f of document.querySelectorAll("form.act")) {
    f.reset();
    f.querySelector(".err").textContent = "";
  }
}

async function pull(queue) {
  const doc = await call("POST", "/api/v1/pull", { queue, wait: 0 });
  if (!doc.message) {
    say(`“${queue}”队列暂时没有待领取的来信。`);
    return;
  }
  // A new message: what was typed for another one does not carry over.
  if (!current || current.id !== doc.message.id) clearForms();
  current = { id: doc.message.id, lease: doc.lease.token, expires: Date.parse(doc.lease.expires_at), from: queue };
  await detail();
  say("已领取，请在租约到期前办理。");
  $("message-h").focus();
  await refresh();
}

// A supervisor's click: the message's trail, whatever its department.
async function trail(id) {
  current = { id, lease: null, from: null };
  clearForms();
  clearInterval(leaseTimer);
  $("message-box").hidden = true;
  await view("work");
  await detail();
  $("message-h").focus();
}

// A label before each control (a check box inside its label, text after).
function field(f) {
  const { id, name, label, tag = "input", options = [], ...attrs } = f;
  const control = document.createElement(tag);
  const lab = document.createElement("label");
  control.id = id;
  control.name = name;
  for (const [k, v] of Object.entries(attrs)) control.setAttribute(k, v === true ? "" : String(v));
  for (const [value, text] of options) control.append(new Option(text, value));
  lab.htmlFor = id;
  if (attrs.type === "checkbox") {
    lab.append(control, ` ${label}`);
    return [lab];
  }
  lab.textContent = label;
  return [lab, control];
}

function buildForms() {
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };
  for (const [action, spec] of Object.entries(ACTIONS)) {
    if (!spec.group) continue;
    const form = el("form", "", "act");
    form.dataset.action = action;
    if (spec.title) form.append(el("h4", spec.title));
    if (spec.note) form.append(el("p", spec.note, "note"));
    for (const f of spec.fields || []) form.append(...field(f));
    const err = el("p", "", "err");
    err.setAttribute("role", "alert");
    const submit = el("button", spec.button, spec.primary ? "primary" : "");
    submit.type = "submit";
    form.append(err, submit);
    document.querySelector(`.forms[data-group="${spec.group}"]`).append(form);
  }
}

function body(form, spec) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.value.trim() === "") continue;
    if (el.type === "radio" && !el.checked) continue;
    if (spec.flags && spec.flags.includes(el.name)) {
      out[el.name] = el.checked;
      continue;
    }
    if (spec.lists && spec.lists.includes(el.name)) {
      out[el.name] = el.value.split(/[,，\s]+/).filter(Boolean);
      continue;
    }
    const v = spec.numbers && spec.numbers.includes(el.name) ? Number(el.value)
      : spec.bools && spec.bools.includes(el.name) ? el.value === "yes" : el.value.trim();
    const [a, b] = el.name.split(".");
    if (b) (out[a] = out[a] || {})[b] = v; else out[a] = v;
  }
  if (spec.lease && current.lease) out.lease = current.lease;
  return out;
}

// One handler for every action form: the error stays next to the form and
// nothing typed is cleared until the router has taken the change.
async function act(form) {
  const spec = ACTIONS[form.dataset.action];
  const err = form.querySelector(".err");
  const submit = form.querySelector("button[type=submit]");
  err.textContent = "";
  say("");
  if (!current) return;
  if (spec.lease && !current.lease && ["reply", "transfer", "finish", "return", "p-answer"].includes(form.dataset.action)) {
    err.textContent = ERRORS.lease_invalid;
    return;
  }
  submit.disabled = true;
  try {
    const doc = await call("POST", `/api/v1/messages/${current.id}/${spec.path}`, body(form, spec));
    form.reset();
    if (doc.message.status !== "leased") current.lease = null;
    if (myQueues.includes(doc.message.queue)) await detail();
    else if (spec.stay) await detail().catch(() => show(doc.message));
    else {
      current = null;
      clearInterval(leaseTimer);
      $("message-box").hidden = true;
    }
    // Said once the view shows the change, so what is read matches it.
    say(spec.done);
    await refresh();
  } catch (e) {
    err.textContent = e.message;
    if (e.code === "lease_expired" || e.code === "lease_invalid") leaseLost(e.message);
  } finally {
    submit.disabled = false;
  }
}

async function release() {
  if (!current || !current.lease) return;
  await call("POST", `/api/v1/messages/${current.id}/release`, { lease: current.lease });
  current = null;
  clearInterval(leaseTimer);
  clearForms();
  $("message-box").hidden = true;
  say("已退回队列。");
  await refresh();
}

async function renew() {
  const doc = await call("POST", `/api/v1/messages/${current.id}/renew`, { lease: current.lease });
  current.lease = doc.lease.token;
  current.expires = Date.parse(doc.lease.expires_at);
  showLease();
  say("租约已延长。");
}

function leaseFail(e) {
  if (e.code === "lease_expired" || e.code === "lease_invalid") leaseLost(e.message);
  else say(e.message);
}

async function start() {
  const key = await loadKey();
  if (!key) {
    view("key");
    return;
  }
  showKey(key.keyid);
  $("nav").hidden = false;
  await view("work");
}

document.addEventListener("DOMContentLoaded", () => {
  buildForms();
  $("make-key").addEventListener("click", () => makeKey().catch((e) => say(e.message)));
  $("refresh").addEventListener("click", () => load(refresh));
  $("sv-refresh").addEventListener("click", () => load(supervise));
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    search($("search-form")).catch((x) => say(x.message));
  });
  $("retry").addEventListener("click", () => (lastLoad ? load(lastLoad) : undefined));
  $("release").addEventListener("click", () => release().catch(leaseFail));
  $("renew").addEventListener("click", () => renew().catch(leaseFail));
  $("pull-again").addEventListener("click", () => pull(current && current.from ? current.from : current.queue).catch((e) => say(e.message)));
  for (const b of document.querySelectorAll("#nav button")) b.addEventListener("click", () => view(b.dataset.view));
  for (const f of document.querySelectorAll("form.act"))
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      act(f);
    });
  if (!window.isSecureContext || !crypto.subtle) {
    say("需要安全连接（HTTPS 或本机地址）才能使用办理台。");
    return;
  }
  start().catch((e) => say(e.message));
});
