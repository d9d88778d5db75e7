// The citizen's pages in a real browser (Debian's chromium, driven by
// playwright-core): keyboard-only submissions on the four channels, the
// confirmation and its reload, a file attached to a letter, /track with
// its file listed and a handler's reply, the receipt downloaded from the
// confirmation and the status page and verified, rating it once, the published
// answer on /answers (search, one answer, never the contact) and /stats,
// a wrong key, the router stopped, axe-core on every page in both display modes, and
// screenshots at 1280 and 360 px.
//
//   node pages.test.mjs BUILD_DIR SOURCE_DIR
//
// Starts the real router and gateway in a fresh temporary directory, on
// loopback, and stops them at the end. Screenshots go to
// BUILD_DIR/tests/browser/screenshots.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { source, shots, bin, check, waitLine, stop, healthy, axe, tabTo, main } from './common.mjs';

// ------------------------------------------------------------ service --

const dir = mkdtempSync(join(tmpdir(), 'mailroom-browser-'));
const ini = join(dir, 'mailroom.ini');
const key = join(dir, 'handler.key');
let router = null, gateway = null, base = '';

function setup() {
	execFileSync(bin.handler, ['--key', key, 'keygen'], { cwd: dir, stdio: 'ignore' });
	const pub = execFileSync(bin.handler, ['--key', key, 'pubkey'], { cwd: dir }).toString().trim();
	let conf = readFileSync(join(source, 'deploy', 'mailroom.ini'), 'utf8');
	conf = conf.replace(/^port = 8080$/m, 'port = 0')
		.replace(/^calendars = .*$/m, `calendars = ${join(source, 'deploy', 'calendars')}`);
	// Later lines win: no limits for the many posts here, and an office name.
	conf += '\n[gateway]\nsubmit_per_minute = 0\nlookup_per_minute = 0\n[office]\nname = 示范市交通运输局\n';
	// No console listener: its fixed port may be taken on a shared machine.
	conf += '\n[console]\nlisten_addr =\n';
	conf += `\n[handler.test]\nkey = ${pub}\nqueues = general, roads, supervision, hotline, disclosure\n`;
	writeFileSync(ini, conf);
}

function startRouter() {
	router = spawn(bin.router, ['-c', ini], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
	return waitLine(router, /listening on/, 10000);
}

async function startGateway() {
	gateway = spawn(bin.gateway, ['-c', ini], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
	const m = await waitLine(gateway, /listening on (http:\/\/[0-9.:]+)/, 10000);
	base = m[1];
}

async function logSize() {
	const t = await (await fetch(`${base}/v1/log/checkpoint`)).text();
	return Number(t.split('\n')[1]);
}

// ------------------------------------------------------------ helpers --

async function typeInto(page, sel, text) {
	await tabTo(page, sel);
	await page.keyboard.type(text);
}

// The receipt button, reached by the keyboard: a download named for the
// code holding a tlog-proof that mailroom-audit verify-receipt accepts
// with the log's public key alone.
async function receiptDownload(page, code, name) {
	check((await page.textContent('#receipt button')).trim() === '下载收件凭证', `${name}: the receipt button is shown`);
	check((await page.textContent('main')).includes('本机关不能暗中修改或删除这条记录'), `${name}: the receipt is explained in a plain line`);
	await tabTo(page, '#receipt button');
	const [dl] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
	check(dl.suggestedFilename() === `mailroom-${code}-receipt.txt`, `${name}: the receipt is named for the code (${dl.suggestedFilename()})`);
	const file = join(dir, `${name}-receipt.txt`);
	await dl.saveAs(file);
	check(readFileSync(file, 'utf8').startsWith('c2sp.org/tlog-proof@v1\n'), `${name}: the receipt is a tlog-proof`);
	let verified = true;
	try {
		execFileSync(bin.audit, ['verify-receipt', '--pubkey', join(dir, 'var', 'keys', 'store.pub'), '--receipt', file], { cwd: dir, stdio: 'ignore' });
	} catch (e) {
		verified = false;
	}
	check(verified, `${name}: mailroom-audit verify-receipt accepts the downloaded receipt`);
}

// Every page is shot at both widths and checked by axe.
async function look(page, name) {
	await axe(page, name);
	// 640 is a 1280-pixel window at 200% zoom; it is checked, not shot.
	for (const width of [1280, 640, 360]) {
		await page.setViewportSize({ width, height: 900 });
		if (width !== 640)
			await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: true });
		const wide = await page.evaluate(() => document.documentElement.scrollWidth);
		check(wide <= width, `${name} fits ${width} px without scrolling sideways (${wide})`);
		const small = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
		check(small >= 18, `${name} at ${width} px: base font ${small} px`);
	}
	await page.setViewportSize({ width: 1280, height: 900 });
}

const channels = [
	{ path: '/mailbox', title: '局长信箱', fill: [['#f-subject', '东门路灯不亮'], ['#f-body', '小区东门的路灯坏了三天，晚上看不清路。'], ['#f-phone', '13800000000']] },
	{ path: '/consultation', title: '在线咨询', fill: [['#f-subject', '老年证怎么办'], ['#f-body', '请问办理老年优待证需要什么材料？']] },
	{ path: '/complaint', title: '监督投诉', fill: [['#f-subject', '窗口态度不好'], ['#f-body', '12月1日上午在三号窗口办事，工作人员不耐烦。'], ['#f-name', '王五']] },
	{ path: '/disclosure', title: '依申请公开', fill: [['#f-name', '张三'], ['#f-id_number', '11010519491231002X'], ['#f-email', 'zhangsan@example.cn'], ['#f-description', '申请公开本机关2024年道路维修经费预算及执行情况。']] },
];

// The id of the message with this code, pulled (leased) by the test handler.
// Messages pulled in passing are remembered: a lease takes them off the queue.
const pulled = new Map();
function pullId(code) {
	if (pulled.has(code)) return pulled.get(code);
	for (const queue of ['general', 'roads', 'supervision', 'disclosure'])
		for (let i = 0; i < 5; i++) {
			let text;
			try {
				text = execFileSync(bin.handler, ['--key', key, '-c', ini, 'pull', '--queue', queue, '--wait', '0'], { cwd: dir }).toString();
			} catch (e) {
				break;   // an empty queue exits non-zero
			}
			const out = JSON.parse(text);
			if (!out.message) break;
			pulled.set(out.message.tracking_code, out.message.id);
			if (out.message.tracking_code === code) return out.message.id;
		}
	return '';
}

// ------------------------------------------------------------- flows --

async function run(ctx) {
	const page = await ctx.newPage();
	// Nothing is fetched from anywhere but the gateway.
	const outside = [];
	page.on('request', req => {
		if (!req.url().startsWith(`${base}/`)) outside.push(req.url());
	});
	const receipts = [];

	await page.goto(`${base}/`);
	check(await page.getAttribute('html', 'lang') === 'zh-CN', 'lang is zh-CN');
	check((await page.textContent('.office')).includes('示范市交通运输局'), 'the office is named from the configuration');
	check((await page.textContent('main')).includes('15 个工作日内答复'), 'the home page gives the mailbox deadline from [policy]');
	await look(page, 'home');

	for (const ch of channels) {
		await page.goto(`${base}/`);
		await tabTo(page, `a[href="${ch.path}"]`);
		await page.keyboard.press('Enter');
		await page.waitForURL(`${base}${ch.path}`);
		check((await page.textContent('h1')) === ch.title, `${ch.path} is the ${ch.title} form`);
		await look(page, `form${ch.path.replace('/', '-')}`);
		for (const [sel, text] of ch.fill)
			await typeInto(page, sel, text);
		await tabTo(page, 'button[type=submit]');
		await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
		const code = (await page.textContent('#tracking-code')).trim();
		const shown = (await page.textContent('#access-key')).trim();
		const akey = shown.replace(/ /g, '');
		check(/^(\S{4} ){7}\S{4}$/.test(shown), `${ch.path}: the key is shown in groups of four`);
		check(/^\d{4}-\d{4}-\d{4}$/.test(code), `${ch.path}: a tracking code is shown (${code})`);
		check(akey.length === 32, `${ch.path}: the access key is shown`);
		receipts.push({ ch, code, akey, shown });
		if (ch.path === '/mailbox') {
			await look(page, 'confirmation');
			await receiptDownload(page, code, 'confirmation');
			// Printed: the code and key, without the links around them.
			await page.emulateMedia({ media: 'print' });
			check(!await page.isVisible('.mode, footer, .button'), 'print hides the links and buttons');
			check(await page.isVisible('#access-key'), 'print keeps the key');
			await page.screenshot({ path: join(shots, 'confirmation-print.png'), fullPage: true });
			await page.emulateMedia({ media: 'screen' });
			// A reload posts the same form again: the same code, nothing new in the log.
			const before = await logSize();
			await page.reload();
			check((await page.textContent('#tracking-code')).trim() === code, 'a reload shows the same tracking code');
			check((await page.textContent('#access-key')).trim() === shown, 'a reload shows the same access key');
			check((await page.textContent('main')).includes('没有重复登记'), 'a reload says nothing was registered twice');
			check(await logSize() === before, 'a reload adds nothing to the log');
		}
	}

	// Errors are shown next to their field, in Chinese, with the input kept.
	await page.goto(`${base}/mailbox`);
	await typeInto(page, '#f-body', '只写了内容');
	await typeInto(page, '#f-phone', '123');
	await tabTo(page, 'button[type=submit]');
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	check((await page.textContent('#e-subject')).includes('请填写标题'), 'a missing subject is named next to its field');
	check((await page.textContent('#e-phone')).includes('电话号码不正确'), 'a bad phone is named next to its field');
	check(await page.inputValue('#f-body') === '只写了内容', 'the input is kept after an error');
	await look(page, 'form-errors');

	// A file attached on the form: a PNG, picked as a browser's file
	// chooser gives it, sent as multipart/form-data without any script.
	// signature, IHDR (1 x 1, 8-bit grey), IDAT, IEND; CRCs are not checked
	const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'),
		Buffer.from('0000000d49484452' + '00000001000000010800000000' + '00000000', 'hex'),
		Buffer.from('0000000949444154' + '780163000000010001' + '00000000', 'hex'),
		Buffer.from('0000000049454e44' + '00000000', 'hex')]);
	await page.goto(`${base}/mailbox`);
	check(await page.getAttribute('form', 'enctype') === 'multipart/form-data', 'the letter form takes files');
	await typeInto(page, '#f-subject', '附图说明');
	await typeInto(page, '#f-body', '路灯的照片在附件里。');
	await page.setInputFiles('#f-files', { name: 'lamp.png', mimeType: 'image/png', buffer: png });
	await tabTo(page, 'button[type=submit]');
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	const withFile = { code: (await page.textContent('#tracking-code')).trim(), akey: (await page.textContent('#access-key')).trim() };
	check(/^\d{4}-\d{4}-\d{4}$/.test(withFile.code), 'a letter with a file is stored');

	// Track the mailbox message, then a handler replies and the reply shows.
	const mb = receipts[0];
	async function track(code, akey) {
		await page.goto(`${base}/`);
		await tabTo(page, 'a[href="/track"]');
		await page.keyboard.press('Enter');
		await page.waitForURL(`${base}/track`);
		await typeInto(page, '#f-code', code);
		await typeInto(page, '#f-key', akey);
		await tabTo(page, 'button[type=submit]');
		await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	}
	await track(withFile.code, withFile.akey);
	check((await page.textContent('#files')).includes('附件 1：PNG 图片'), 'the status page lists the attached file');
	await page.goto(`${base}/track`);
	await look(page, 'track');
	await track(mb.code, mb.shown);
	check((await page.textContent('h1')) === '办理进度', 'code and key, typed as shown with spaces, open the status page');
	check((await page.textContent('main')).includes('还没有答复'), 'no reply yet');
	const queue = await page.evaluate(() => {
		const dt = [...document.querySelectorAll('dt')].find(e => e.textContent === '承办部门');
		return dt ? dt.nextElementSibling.textContent : '';
	});
	check(/[\u4e00-\u9fff]/.test(queue), `the status names the department in Chinese (${queue})`);
	const id = pullId(mb.code);
	check(id !== '', 'the handler pulls the message');
	execFileSync(bin.handler, ['--key', key, '-c', ini, 'reply', id, '--text', '已安排维修，三日内修复。'], { cwd: dir });
	await track(mb.code, mb.akey);
	check((await page.textContent('#reply')).includes('已安排维修'), 'the reply appears on the status page');
	check((await page.textContent('.timeline')).includes('已答复'), 'the timeline shows the reply');
	await look(page, 'status');
	await receiptDownload(page, mb.code, 'status');
	await track(mb.code, mb.akey);   // the focus back at the top

	// Rated with the keyboard alone: a level by the arrow keys, a comment, once.
	await tabTo(page, 'input[name=level]');
	for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
	check(await page.isChecked('#level-3'), 'the arrow keys choose 不满意');
	await typeInto(page, '#comment', '灯修好后又坏了');
	await tabTo(page, 'form[action="/track"] button[type=submit]');
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	check((await page.textContent('#rated')).includes('谢谢'), 'the rating is thanked');
	check(!await page.isVisible('input[name=level]'), 'the rating is not offered again');
	check(!(await page.content()).includes(mb.akey), 'the access key is in no page');
	await look(page, 'status-rated');
	await track(mb.code, mb.akey);
	check((await page.textContent('#rated')).includes('不满意'), 'looked up again, the rating shows');
	const again = await fetch(`${base}/v1/messages/${mb.code}/rating`, {
		method: 'POST', body: '{"level":"satisfied"}',
		headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${mb.akey}` },
	});
	check(again.status === 409, `a second rating is refused (${again.status})`);

	// Published without the contact, found from the footer with the keyboard.
	const redacted = join(dir, 'redacted.txt');
	writeFileSync(redacted, '小区东门的路灯坏了三天，晚上看不清路。\n');
	execFileSync(bin.handler, ['--key', key, '-c', ini, 'publish', mb.code, '--subject', '东门路灯不亮',
		'--body-file', redacted], { cwd: dir });
	await tabTo(page, 'footer a[href="/answers"]');
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	check((await page.textContent('h1')) === '公开答复', 'the footer leads to the published answers');
	check((await page.textContent('.answers')).includes('东门路灯不亮'), 'the published answer is listed');
	await look(page, 'answers');
	await typeInto(page, '#q', '三日内');
	await tabTo(page, 'form[role=search] button');
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	check((await page.textContent('#found')).includes('找到 1 条'), 'the search finds it by the reply');
	await tabTo(page, '.answers a');
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	check((await page.textContent('#reply')).includes('三日内修复'), 'one answer shows the reply');
	const html = await page.content();
	check(!html.includes('13800000000') && !html.includes(mb.code), 'no phone and no tracking code on the public page');
	await look(page, 'answer');
	await page.goto(`${base}/stats`);
	check((await page.textContent('#stats')).includes('局长信箱'), 'the statistics list the mailbox');
	await look(page, 'stats');

	// A pause shows in general words, never the handler's reason.
	const cs = receipts[1];
	await track(cs.code, cs.akey);
	const csId = pullId(cs.code);
	check(csId !== '', 'the handler pulls the consultation');
	execFileSync(bin.handler, ['--key', key, '-c', ini, 'pause', csId, '--reason', '内部备注：等王科长回话'], { cwd: dir });
	await track(cs.code, cs.akey);
	const text = await page.textContent('main');
	check(text.includes('暂停计时'), 'a pause appears on the timeline');
	check(!text.includes('王科长'), "the handler's reason is not shown");
	await look(page, 'status-paused');

	// The status page stops the notices, with the same code and key.
	await page.goto(`${base}/track`);
	await typeInto(page, '#f-code', cs.code);
	await typeInto(page, '#f-key', cs.akey);
	await page.check('input[name=notices][value=off]');
	await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
	check((await page.textContent('main')).includes('已停止，今后不再发送'), 'the status page stops the notices');

	// A wrong key: the same refusal as an unknown code.
	await track(mb.code, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
	check((await page.textContent('.alert')).includes('查询码或查询密钥不正确'), 'a wrong key is refused in Chinese');
	check(await page.inputValue('#f-key') === '', 'the key is never written back into the page');
	check(!await page.isVisible('#receipt'), 'a wrong key gets no receipt button');
	await look(page, 'track-wrong-key');

	// Large text, high contrast: a plain link, remembered by a cookie.
	await page.goto(`${base}/`);
	await tabTo(page, '.mode a');
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	check(await page.getAttribute('body', 'class') === 'large', 'the large mode is on');
	await page.goto(`${base}/complaint`);
	check(await page.getAttribute('body', 'class') === 'large', 'the large mode is remembered');
	await look(page, 'large-form-complaint');
	await page.goto(`${base}/`);
	await look(page, 'large-home');
	await page.goto(`${base}/track`);
	await look(page, 'large-track');
	await page.goto(`${base}/display?mode=normal&back=/`);

	// The router stopped: the page says so, the input is kept, nothing lost.
	const before = await logSize();
	await stop(router, 'the router');
	check(await healthy(base, false), 'the gateway sees the router gone');
	await page.goto(`${base}/mailbox`);
	await typeInto(page, '#f-subject', '路口红绿灯坏了');
	await typeInto(page, '#f-body', '人民路口的红绿灯不亮。');
	await tabTo(page, 'button[type=submit]');
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	check((await page.textContent('.alert')).includes('系统暂时无法受理'), 'the router away is said in Chinese');
	check(await page.inputValue('#f-subject') === '路口红绿灯坏了', 'the subject is kept while the router is away');
	check(await page.inputValue('#f-body') === '人民路口的红绿灯不亮。', 'the body is kept while the router is away');
	await look(page, 'router-down');
	await startRouter();
	check(await healthy(base, true), 'the gateway reconnects');
	check(await logSize() === before, 'nothing was stored while the router was away');
	await tabTo(page, 'button[type=submit]');
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
	check(/^\d{4}-\d{4}-\d{4}$/.test((await page.textContent('#tracking-code')).trim()), 'the kept form is stored once the router is back');
	check(outside.length === 0, `no request left the gateway (${outside.join(' ')})`);
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
