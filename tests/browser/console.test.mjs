// The handler console in a real browser (Debian's chromium, driven by
// playwright-core): a key enrolled in the browser and added by
// `mailroom-admin handler add` with no restart; pull, reply, transfer,
// extend, a disclosure decision; the supervision view seeing an overdue
// message arrive and opening its trail; a petition accepted and answered,
// an assisting queue's opinion, a merge undone; an expired lease, a second handler
// on the same queue, and the router stopped and started again. axe-core on
// every screen, screenshots at 1280 px, and afterwards `mailroom-audit
// verify` and a trail naming the browser's key id for each action.
//
//   node console.test.mjs BUILD_DIR SOURCE_DIR
//
// Screenshots go to BUILD_DIR/tests/browser/screenshots (console-*.png).
import { spawn, execFileSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { source, shots, bin, check, sleep, waitLine, stop, healthy, axe, tabTo, main } from './common.mjs';

const LEASE_SECONDS = 12;


// ------------------------------------------------------------ service --

const dir = mkdtempSync(join(tmpdir(), 'mailroom-console-'));
const ini = join(dir, 'mailroom.ini');
const opsKey = join(dir, 'ops.key');
const cliKey = join(dir, 'cli.key');
const petitionSecret = randomBytes(32).toString('hex');
let router = null, gateway = null, base = '', cbase = '';

function setup() {
	const pubs = {};
	for (const [name, k] of [['ops', opsKey], ['cli', cliKey]]) {
		execFileSync(bin.handler, ['--key', k, 'keygen'], { cwd: dir, stdio: 'ignore' });
		pubs[name] = execFileSync(bin.handler, ['--key', k, 'pubkey'], { cwd: dir }).toString().trim();
	}
	let conf = readFileSync(join(source, 'deploy', 'mailroom.ini'), 'utf8');
	conf = conf.replace(/^port = 8080$/m, 'port = 0')
		.replace(/^calendars = .*$/m, `calendars = ${join(source, 'deploy', 'calendars')}`);
	// Later lines win: short leases, the console on a free port, no limits.
	conf += `\n[router]\nlease_seconds = ${LEASE_SECONDS}\n`;
	conf += '\n[gateway]\nsubmit_per_minute = 0\nlookup_per_minute = 0\n';
	conf += '\n[console]\nlisten_addr = 127.0.0.1\nport = 0\n';
	conf += `\n[handler.ops]\nkey = ${pubs.ops}\nqueues = general\nadmin = yes\nimport = yes\n`;
	conf += `\n[handler.cli]\nkey = ${pubs.cli}\nqueues = general, roads, disclosure, supervision\n`;
	// Petitions in a queue of their own, so that pulling it hands out the petition.
	conf += '\n[queues]\npetition = petitions\n';
	writeFileSync(join(dir, 'petition.secret'), `${petitionSecret}\n`, { mode: 0o600 });
	conf += `\n[petition.app.xfj-test]\nsecret_file = ${join(dir, 'petition.secret')}\n`;
	writeFileSync(ini, conf);
}

function startRouter() {
	router = spawn(bin.router, ['-c', ini], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
	return waitLine(router, /listening on/, 10000);
}

async function startGateway() {
	gateway = spawn(bin.gateway, ['-c', ini], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
	const both = waitLine(gateway, /console listening on (http:\/\/[0-9.:]+)/, 10000);
	const pub = waitLine(gateway, /(?<!console )listening on (http:\/\/[0-9.:]+)/, 10000);
	cbase = (await both)[1];
	base = (await pub)[1];
}

async function post(path, doc) {
	const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(doc) });
	const j = await r.json();
	if (r.status !== 201) throw new Error(`${path}: ${r.status} ${JSON.stringify(j)}`);
	return j;
}

// A transfer from the petition system, signed as docs/petition-transfer.md says.
async function petition(no, title, content) {
	const at = new Date(Date.now() - 60000 + 8 * 3600000).toISOString().replace(/\.\d+Z$/, '+08:00');
	const body = JSON.stringify({ petition_no: no, forwarded_by: '市信访局', forwarded_at: at, kind: 'complaint',
		title, content, contact: { name: '李四', phone: '13800138000' } });
	const ts = String(Math.floor(Date.now() / 1000));
	const nonce = randomBytes(16).toString('hex');
	const sig = createHmac('sha256', Buffer.from(petitionSecret, 'hex'))
		.update(`POST\n/v1/petition/transfers\n${ts}\n${nonce}\n${createHash('sha256').update(body).digest('hex')}`).digest('hex');
	const r = await fetch(`${base}/v1/petition/transfers`, { method: 'POST', body, headers: {
		'Content-Type': 'application/json', 'X-App-Id': 'xfj-test', 'X-Timestamp': ts, 'X-Nonce': nonce, 'X-Signature': sig } });
	const j = await r.json();
	if (r.status !== 201) throw new Error(`petition: ${r.status} ${JSON.stringify(j)}`);
	return j;
}

const letter = (subject, body) => ({ channel: 'mailbox', subject, body, contact: { name: '王五', phone: '13900139000' } });

function cli(...args) {
	return execFileSync(bin.handler, ['--key', cliKey, '-c', ini, ...args], { cwd: dir }).toString();
}

// The actor id of a public key: docs/handler-api.md.
function actorId(pubHex) {
	return createHash('sha256').update(Buffer.concat([Buffer.from('mailroom/actor/v1\n'), Buffer.from(pubHex, 'hex')]))
		.digest().subarray(0, 8).toString('hex');
}

// ------------------------------------------------------------ helpers --

// Every screen: axe, a shot at 1280 px, and no sideways scrolling on a tablet.
async function look(page, name) {
	await axe(page, name);
	await page.screenshot({ path: join(shots, `console-${name}.png`), fullPage: true });
	await page.setViewportSize({ width: 768, height: 1024 });
	const wide = await page.evaluate(() => document.documentElement.scrollWidth);
	check(wide <= 768, `console ${name} fits a 768 px tablet (${wide})`);
	await page.setViewportSize({ width: 1280, height: 900 });
}

const status = (page) => page.textContent('#status');
// Polls from here: the page's CSP forbids the evaluated predicates of
// page.waitForFunction.
async function until(fn, ms = 10000) {
	for (const end = Date.now() + ms; Date.now() < end; await sleep(100))
		if (await fn()) return true;
	return false;
}
async function waitStatus(page, text) {
	if (await until(async () => (await status(page)).includes(text))) return true;
	console.error(`status is: ${await status(page)}`);
	return false;
}
// Clicks sel with the status line cleared first, so a stale line never counts.
async function press(page, sel, text) {
	await page.evaluate(() => { document.getElementById('status').textContent = ''; });
	await page.click(sel);
	return waitStatus(page, text);
}
const heading = async (page) => (await page.textContent('#message-h')).replace('来信 ', '').trim();
const pullButton = (q) => `#queues button[aria-label="领取 ${q} 的下一件"]`;
const pull = (page, queue) => press(page, pullButton(queue), '已领取');

// ------------------------------------------------------------- flows --

async function run(ctx) {
	const page = await ctx.newPage();
	const outside = [];
	page.on('request', req => { if (!req.url().startsWith(`${cbase}/`)) outside.push(req.url()); });

	// Enrol: a key made in the browser, added by the office, no restart.
	await page.goto(`${cbase}/`);
	check(await page.getAttribute('html', 'lang') === 'zh-CN', 'lang is zh-CN');
	await look(page, 'key-none');
	await tabTo(page, '#make-key', 120);   // the console's screens are long
	await page.keyboard.press('Enter');
	await page.waitForSelector('#keyid:not(:empty)');
	const pub = (await page.textContent('#keyid')).trim();
	check(/^[0-9a-f]{64}$/.test(pub), 'the page shows the public key');
	await look(page, 'key');
	const actor = `handler:${actorId(pub)}`;

	const sub = await post('/v1/messages', letter('小区垃圾清运', '小区的垃圾每天只清运一次。'));
	const queue = sub.queue;
	const codes = [sub.tracking_code];
	const keys = { [sub.tracking_code]: sub.access_key };
	for (let i = 0; i < 4; i++) {
		const m = await post('/v1/messages', letter(`来信 ${i}`, `第 ${i} 封来信的内容。`));
		codes.push(m.tracking_code);
		keys[m.tracking_code] = m.access_key;
	}
	const app = await post('/v1/disclosure-applications', {
		applicant: { kind: 'natural_person', name: '张三', id_type: 'resident_id', id_number: '11010519491231002X', phone: '13800000000' },
		description: '申请公开本机关2024年道路维修经费预算及执行情况。', form: 'electronic', delivery: 'email', submission_mode: 'online',
	});
	execFileSync(bin.admin, ['-c', ini, '--key', opsKey, 'handler', 'add', 'clerk', '--key', pub,
		'--queues', `${queue},roads,disclosure,petitions`, '--supervise'], { cwd: dir, stdio: 'ignore' });

	await page.click('#nav button[data-view="work"]');
	await page.waitForSelector(pullButton(queue));
	check(await until(() => page.isVisible('#nav-supervise')), 'a supervisor sees the 督办 tab');
	await look(page, 'queues');

	// Pull: the detail with the contact and the timeline.
	check(await pull(page, queue), 'the browser pulls a message');
	const first = await heading(page);
	check(codes.includes(first), `the message shown is one of ours (${first})`);
	check((await page.textContent('#message')).includes('王五'), 'the contact is shown to a handler of the queue');
	check((await page.textContent('#timeline')).includes('领取'), 'the timeline shows the lease');
	check(await page.isVisible('#lease-note'), 'the lease is shown');
	await look(page, 'message');

	// A second handler on the same queue gets another message.
	const other = JSON.parse(cli('pull', '--queue', queue, '--wait', '0'));
	check(other.message && other.message.tracking_code !== first, 'a second handler pulls a different message');
	cli('release', other.message.id);

	// Reply.
	await page.fill('#reply-text', '已联系环卫所，自下周起每天清运两次。');
	check(await press(page, '#reply-form button[type=submit]', '已答复'), 'the reply is taken');
	check((await page.textContent('#message')).includes('已答复'), 'the message shows as replied');

	// Search: the reply's words find the message, and nothing else.
	await page.fill('#s-words', '环卫所');
	await page.click('#search-form button[type=submit]');
	check(await until(async () => (await page.textContent('#results-note')).includes('找到 1 件')), 'the search box finds the message by its reply');
	check((await page.textContent('#results')).includes(first), 'the one found is the replied message');
	await look(page, 'search');
	await page.fill('#s-words', '核电站');
	await page.click('#search-form button[type=submit]');
	check(await until(async () => (await page.textContent('#results-note')).includes('没有找到')), 'a search finding nothing says so');

	// Publish: the original beside the copy; the contact refused, then a clean copy taken.
	check(await page.isVisible('#publish-form'), 'an answered message offers publishing');
	const orig = await page.textContent('#orig-body');
	check(orig.length > 0 && await page.inputValue('#pub-body') === orig, 'the original is shown beside its editable copy');
	await page.fill('#pub-body', `${orig}（来信人王五）`);
	await page.click('#publish-form button[type=submit]');
	check(await until(async () => (await page.textContent('#publish-form .err')).includes('姓名')), 'the contact in the copy is refused');
	await page.fill('#pub-body', orig.replace(/王五|13900139000/g, ''));
	check(await press(page, '#publish-form button[type=submit]', '已公开'), 'the redacted copy is published');
	check(await page.isVisible('#unpublish-form'), 'a published answer can be withdrawn');
	await look(page, 'message-published');

	// The citizen is not satisfied: withdrawn, then the call-back re-opens it.
	const rated = await fetch(`${base}/v1/messages/${first}/rating`, {
		method: 'POST', body: '{"level":"very_dissatisfied","comment":"还是没人来收"}',
		headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${keys[first]}` },
	});
	check(rated.status === 201, `the citizen rates the answer (${rated.status})`);
	await page.fill('#unpub-reason', '来信人不满意，先撤下');
	check(await press(page, '#unpublish-form button[type=submit]', '已撤下'), 'the answer is withdrawn');
	check(await page.isVisible('#callback-form'), 'the bad rating shows the call-back form');
	check((await page.textContent('#message')).includes('非常不满意'), "the citizen's rating is shown");
	await look(page, 'message-callback');
	await page.check('#callback-form input[name=reached][value=yes]');
	await page.check('#callback-form input[name=resolved][value=no]');
	await page.check('#callback-form input[name=reopen][value=yes]');
	await page.fill('#cb-note', '已电话联系，垃圾仍未清运');
	check(await press(page, '#callback-form button[type=submit]', '已登记回访结果'), 'the call-back is recorded');
	check((await page.textContent('#message')).includes('待领取'), 're-opened: back in the queue');
	check((await page.textContent('#timeline')).includes('重新办理'), 'the timeline shows the re-opening');

	// Pull, transfer, then extend the transferred message.
	check(await pull(page, queue), 'the browser pulls another message');
	const moved = await heading(page);
	await page.click('#more-transfer summary');
	await page.fill('#t-to', 'roads');
	await page.fill('#t-reason', '属道路维护事项');
	check(await press(page, 'form[data-action=transfer] button[type=submit]', '已转办'), 'the transfer is taken');
	check(await heading(page) === moved, 'the transferred message stays shown');
	const dueBefore = await page.evaluate(() => [...document.querySelectorAll('#message dt')].find(e => e.textContent === '答复时限').nextElementSibling.textContent);
	await page.click('#more-clock summary');
	await page.fill('#e-days', '5');
	await page.fill('#e-approver', '王主任');
	await page.fill('#e-reason', '需现场勘查');
	check(await press(page, 'form[data-action=extend] button[type=submit]', '已延期'), 'the extension is taken');
	const dueAfter = await page.evaluate(() => [...document.querySelectorAll('#message dt')].find(e => e.textContent === '答复时限').nextElementSibling.textContent);
	check(dueAfter > dueBefore, `the reply deadline moved (${dueBefore} → ${dueAfter})`);
	check((await page.textContent('#timeline')).includes('延期'), 'the timeline shows the extension');
	await page.fill('#p-reason', '等待现场勘查结果');
	check(await press(page, 'form[data-action=pause] button[type=submit]', '已暂停计时'), 'the pause is taken');
	await page.fill('#p-reason', '再次暂停');
	await page.click('form[data-action=pause] button[type=submit]');
	await page.waitForSelector('form[data-action=pause] .err:not(:empty)');
	check((await page.textContent('form[data-action=pause] .err')).includes('计时已经暂停'), 'a second pause is refused in Chinese next to it');
	await page.fill('#r-reason', '勘查结果已到');
	check(await press(page, 'form[data-action=resume] button[type=submit]', '已恢复计时'), 'the resume is taken');

	// A disclosure decision: a refusal keeps what was typed, then it is taken.
	check(await pull(page, 'disclosure'), 'the browser pulls the application');
	check(await heading(page) === app.tracking_code, 'the application is shown');
	check(await page.isHidden('#reply-form'), 'an application has no plain reply');
	await page.click('#more-disclosure summary');
	await page.selectOption('#d-outcome', 'withheld.state_secret');
	await page.fill('#d-text', '经审查，所申请信息属于国家秘密。');
	await page.click('form[data-action=decide] button[type=submit]');
	await page.waitForSelector('form[data-action=decide] .err:not(:empty)');
	const err = await page.textContent('form[data-action=decide] .err');
	check(/[\u4e00-\u9fff]/.test(err) && !/[a-z_]{6,}/.test(err), `the refusal is in plain Chinese (${err})`);
	check(await page.inputValue('#d-text') === '经审查，所申请信息属于国家秘密。', 'the text is kept after a refusal');
	await look(page, 'disclosure-refused');
	await page.selectOption('#d-outcome', 'disclosed');
	await page.fill('#d-basis', '《政府信息公开条例》第二十条');
	await page.fill('#d-text', '予以公开，见附件。');
	check(await press(page, 'form[data-action=decide] button[type=submit]', '已作出决定'), 'the decision is taken');
	check((await page.textContent('#message')).includes('予以公开'), 'the outcome shows with its Chinese label');
	await look(page, 'disclosure');

	// A petition: its stage and deadlines shown, accepted and answered through its own steps.
	const pet = await petition('XF-BROWSER-1', '小区违建', '小区内有违建长期未拆除。');
	await page.click('#refresh');
	await page.waitForSelector(pullButton('petitions'));
	check(await pull(page, 'petitions'), 'the browser pulls the petition');
	check(await heading(page) === pet.tracking_code, 'the petition is shown');
	check((await page.textContent('#message')).includes('待受理'), "the petition's stage is shown");
	check((await page.textContent('#message')).includes('受理告知时限'), 'the acceptance notice deadline is shown');
	check(await page.isHidden('#reply-form') && await page.isHidden('#more-clock'), 'a petition has no plain reply or clock forms');
	await page.click('#more-petition summary');
	check(await page.isHidden('form[data-action=p-answer]'), 'no answer before the acceptance');
	check(await press(page, 'form[data-action=p-accept] button[type=submit]', '已受理'), 'the petition is accepted');
	check((await page.textContent('#message')).includes('已受理，办理中'), 'the stage moves to accepted');
	check(await page.isHidden('form[data-action=p-accept]'), 'acceptance is offered once');
	await page.fill('#pa-text', '经核查，已责令当事人限期拆除。');
	await look(page, 'petition');
	check(await press(page, 'form[data-action=p-answer] button[type=submit]', '已出具办理意见'), 'the petition is answered');
	check((await page.textContent('#message')).includes('已出具办理意见'), 'the stage moves to answered');
	check(await page.isVisible('#p-review-form'), 'an answered petition offers to record a review request');
	await look(page, 'petition-answered');

	// An assisting opinion: the lead (another department) asks one of the browser's queues.
	const asked = await post('/v1/messages', { ...letter('夜间施工噪音', '工地夜间施工，噪音扰民。'), channel: 'complaint' });
	cli('assist', asked.tracking_code, '--queue', queue, '--reason', '请提供夜间施工许可情况');
	await page.click('#refresh');
	check(await until(async () => (await page.textContent('#owed')).includes(asked.tracking_code)), 'the case owed an opinion is listed');
	await look(page, 'owed');
	await page.click(`#owed button[aria-label="查看 ${asked.tracking_code}"]`);
	check(await until(async () => await heading(page) === asked.tracking_code && await page.isVisible('#opinion-form')), 'the opinion form is shown for the asked queue');
	check(await page.isHidden('#actions'), "the lead's own forms are not offered");
	await page.fill('#o-text', '该工地未取得夜间施工许可。');
	await look(page, 'opinion');
	check(await press(page, '#opinion-form button[type=submit]', '已提交协办意见'), 'the opinion is delivered');
	check((await page.textContent('#message')).includes('已反馈'), 'the delivered opinion is shown');
	// The list of owed opinions is read again after the change is said.
	check(await until(() => page.isVisible('#owed-none')), 'nothing is owed any more');

	// A merge undone: two letters merged through the form, then the merged one unmerged.
	const pair = [];
	for (const s of ['井盖缺失（一）', '井盖缺失（二）']) pair.push((await post('/v1/messages', letter(s, '人行道井盖缺失，行人易跌倒。'))).tracking_code);
	const find = async () => {
		for (let i = 0; i < 30; i++) {
			await page.fill('#s-words', '井盖缺失');
			await page.click('#search-form button[type=submit]');
			if (await until(async () => (await page.textContent('#results-note')).includes('找到 2 件'), 1000)) return true;
		}
		return false;
	};
	const open = async (code) => {
		await page.click(`#results button[aria-label="查看 ${code}"]`);
		return until(async () => await page.isVisible('#message-box') && await heading(page) === code);
	};
	check(await find() && await open(pair[0]), 'the first letter opens from the search');
	await page.click('#more-case summary');
	await page.fill('#m-refs', pair[1]);
	await page.fill('#m-reason', '同一处井盖');
	check(await press(page, 'form[data-action=merge] button[type=submit]', '已并单'), 'the second letter is merged into the first');
	check((await page.textContent('#message')).includes(pair[1]), 'the primary names the merged letter');
	check(await find() && await open(pair[1]), 'the merged letter opens from the search');
	check(await page.isVisible('#unmerge-form'), 'a merged-away letter offers the unmerge');
	await look(page, 'merged');
	await page.fill('#um-reason', '并非同一处井盖');
	check(await press(page, '#unmerge-form button[type=submit]', '已取消并单'), 'the merge is undone');
	check((await page.textContent('#message')).includes('待领取'), 'the letter is back in its queue');

	// Supervision: an old open message arrives overdue; the counts move.
	await page.click('#nav button[data-view="supervise"]');
	await page.waitForSelector('#departments tr');
	const late = () => page.evaluate(() => [...document.querySelectorAll('#departments tr')]
		.reduce((n, tr) => n + Number(tr.children[4].textContent) + Number(tr.children[5].textContent), 0));
	const lateBefore = await late();
	const old = join(dir, 'old.jsonl');
	writeFileSync(old, JSON.stringify({ ref: 'OLD-2026-0001', channel: 'mailbox', received_at: '2026-09-01T10:00:00+08:00',
		subject: '旧系统来信', body: '九月份的来信，尚未答复。', events: [] }) + '\n');
	execFileSync(bin.admin, ['-c', ini, '--key', opsKey, 'import', '--file', old], { cwd: dir, stdio: 'ignore' });
	let lateAfter = lateBefore;
	for (let i = 0; i < 30 && lateAfter === lateBefore; i++) {
		await sleep(300);
		await page.click('#sv-refresh');
		await sleep(200);
		lateAfter = await late();
	}
	check(lateAfter === lateBefore + 1, `the overdue count moves (${lateBefore} → ${lateAfter})`);
	check(/%/.test(await page.textContent('#departments')), 'the on-time rates are shown');
	// Unanswered since September: past the veto line, both alerts written.
	check((await page.textContent('#veto')).includes('80 天'), 'the old letter is on the veto list');
	check(!await page.isVisible('#veto-none'), 'the veto list is not empty');
	await look(page, 'supervise');
	const lateRow = '#items tr.overdue, #items tr.seriously_overdue';
	const lateCode = (await page.textContent(`${lateRow} >> nth=0 >> td >> nth=0`)).trim();
	await page.click(`${lateRow} >> nth=0 >> button`);
	check(await until(async () => await page.isVisible('#message-box') && await heading(page) === lateCode), `the trail of ${lateCode} opens`);
	check((await page.textContent('#timeline')).includes('超期'), `the overdue message's trail shows it overdue (${await page.textContent('#timeline')})`);
	await look(page, 'trail');

	// A citizen's file, listed with its kind, size and scan state (no
	// scanner here: it stays pending, so there is nothing to download).
	const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'),
		Buffer.from('0000000d49484452' + '00000001000000010800000000' + '00000000', 'hex'),
		Buffer.from('0000000949444154' + '780163000000010001' + '00000000', 'hex'),
		Buffer.from('0000000049454e44' + '00000000', 'hex')]);
	const up = await fetch(`${base}/v1/uploads`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: png });
	check(up.status === 201, `the file is uploaded (${up.status})`);
	const withFile = await post('/v1/messages', { ...letter('路灯照片', '路灯坏了，照片见附件。'), attachments: [(await up.json()).handle] });
	await page.click('#nav button[data-view="work"]');
	await page.fill('#s-words', '路灯照片');
	await page.click('#search-form button[type=submit]');
	await page.click(`#results button[aria-label="查看 ${withFile.tracking_code}"]`);
	check(await until(async () => await page.isVisible('#files-box') && await heading(page) === withFile.tracking_code), 'the message with a file opens');
	const files = await page.textContent('#files');
	check(files.includes('附件 1：PNG 图片，1 KB，正在病毒检查'), `the file is listed with kind, size and scan state (${files})`);
	check(await page.locator('#files button').count() === 0, 'a file not yet scanned offers no download');
	await look(page, 'message-files');

	// An expired lease: said in Chinese; another handler takes the message;
	// the text typed stays, and once it is back the reply goes through.
	await page.click('#nav button[data-view="work"]');
	await page.waitForSelector(pullButton(queue));
	check(await pull(page, queue), 'the browser pulls a message to let its lease expire');
	const held = await heading(page);
	await page.fill('#reply-text', '租约到期前写下的答复。');
	await until(async () => (await page.textContent('#lease-text')).includes('租约已到期'), (LEASE_SECONDS + 5) * 1000);
	check(await page.isVisible('#pull-again'), 'the page offers to pull again');
	// The router's clock returns it within a tick or two; an empty queue
	// exits non-zero, so wait a little and ask again.
	let taken = null;
	for (let i = 0; i < 30 && !taken; i++) {
		let out = null;
		try {
			out = JSON.parse(cli('pull', '--queue', queue, '--wait', '1'));
		} catch {
			await sleep(300);
			continue;
		}
		if (out.message && out.message.tracking_code === held) taken = out.message;
		else if (out.message) {
			cli('release', out.message.id);   // not that one: leave it for later
			await sleep(300);
		}
	}
	check(taken !== null, 'the second handler takes the expired message');
	await page.click('#reply-form button[type=submit]');
	await page.waitForSelector('#reply-form .err:not(:empty)');
	check((await page.textContent('#reply-form .err')).includes('重新领取'), 'the lost lease is said in Chinese next to the reply');
	check(await page.inputValue('#reply-text') === '租约到期前写下的答复。', 'the typed reply is kept');
	await look(page, 'lease-expired');
	cli('release', taken.id);
	check(await press(page, '#pull-again', '已领取'), 'pull again');
	if (await heading(page) === held) {
		check(await page.inputValue('#reply-text') === '租约到期前写下的答复。', 'the typed reply is still there');
		check(await press(page, '#reply-form button[type=submit]', '已答复'), 'the kept reply is taken');
	} else {
		check(false, `the same message comes back (${await heading(page)} for ${held})`);
	}

	// The router stopped: a calm notice, the text kept, a retry works.
	check(await pull(page, queue), 'the browser pulls before the router stops');
	await page.fill('#reply-text', '路由器停止时写下的答复。');
	await stop(router, 'the router');
	check(await healthy(base, false), 'the gateway sees the router gone');
	await page.click('#reply-form button[type=submit]');
	await page.waitForSelector('#reply-form .err:not(:empty)');
	check((await page.textContent('#reply-form .err')).includes('系统暂时不可用，请稍后重试'), 'the router away is said calmly');
	check(await page.isVisible('#away'), 'the page offers a retry');
	check(await page.inputValue('#reply-text') === '路由器停止时写下的答复。', 'the typed reply is kept while the router is away');
	await look(page, 'router-down');
	await startRouter();
	check(await healthy(base, true), 'the gateway reconnects');
	// The retry reloads the queues; the typed reply is still there.
	await page.click('#retry');
	check(await until(() => page.isHidden('#away')), 'the notice goes away once the router answers');
	check(await page.inputValue('#reply-text') === '路由器停止时写下的答复。', 'the typed reply survives the retry');
	let back = await press(page, '#reply-form button[type=submit]', '已答复');
	if (!back && await page.isVisible('#pull-again')) {
		// The lease ran out while the router was away: pull it again.
		check(await press(page, '#pull-again', '已领取'), 'pull again after the restart');
		back = await press(page, '#reply-form button[type=submit]', '已答复');
	}
	check(back, `the reply is taken once the router is back (${await page.textContent('#reply-form .err')})`);
	check(outside.length === 0, `no request left the console (${outside.join(' ')})`);

	// The audit log verifies, and the trails name the browser's key id.
	const store = join(dir, 'var', 'store');
	let ok = true;
	try {
		execFileSync(bin.audit, ['verify', '--store', store, '--calendars', join(source, 'deploy', 'calendars')], { cwd: dir, stdio: 'pipe' });
	} catch (e) {
		ok = false;
		console.error(e.stdout?.toString(), e.stderr?.toString());
	}
	check(ok, 'mailroom-audit verify passes');
	const trail = (code) => JSON.parse(execFileSync(bin.audit, ['trail', code, '--store', store, '--json'], { cwd: dir }).toString());
	const by = (code, event) => JSON.stringify(trail(code)).includes(actor) && JSON.stringify(trail(code)).toLowerCase().includes(event);
	check(by(first, 'replied'), `the reply is recorded as ${actor}`);
	check(by(moved, 'transferred'), 'the transfer is recorded by key id');
	check(by(moved, 'extended'), 'the extension is recorded by key id');
	check(by(moved, 'paused') && by(moved, 'resumed'), 'the pause and resume are recorded by key id');
	check(by(app.tracking_code, 'decided'), 'the decision is recorded by key id');
	check(by(pet.tracking_code, 'petition_accepted') && by(pet.tracking_code, 'petition_answered'), 'the petition steps are recorded by key id');
	check(by(asked.tracking_code, 'opinion_delivered'), 'the opinion is recorded by key id');
	check(by(pair[1], 'unmerged'), 'the unmerge is recorded by key id');
	check(!JSON.stringify(trail(first)).includes('clerk'), 'the trail never names the handler');
}

// --------------------------------------------------------------- main --

await main({
	profile: mkdtempSync(join(tmpdir(), 'mailroom-chromium-')),
	dir,
	async start() {
		mkdirSync(shots, { recursive: true });
		setup();
		await startRouter();
		await startGateway();
		if (!await healthy(base, true)) throw new Error('the gateway never reached the router');
	},
	body: run,
	async stopAll() {
		await stop(gateway, 'the gateway');
		await stop(router, 'the router');
	},
});
