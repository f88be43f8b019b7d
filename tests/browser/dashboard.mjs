// Drives `tessera dashboard` in Debian's headless Chromium (playwright-core, with
// executablePath: Playwright's own browser download cannot work here).
// Usage: node dashboard.mjs URL SCREENSHOT.png MIN_WINDOWS MIN_MINERS
// Waits until the page shows MIN_WINDOWS points on the loss chart and MIN_MINERS miners,
// every one judged at least once; opens the first miner's "why" list; saves a full-page
// screenshot; prints what the page shows as one JSON object on stdout.
import { chromium } from 'playwright-core';

const [url, screenshot, minWindows, minMiners] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(url);
  await page.waitForFunction(([w, m]) => {
    const miners = [...document.querySelectorAll('#miners tr[data-uid]')];
    return document.querySelectorAll('#loss-chart circle').length >= w && miners.length >= m &&
      miners.every(r => Number(r.dataset.judged) > 0);
  }, [Number(minWindows), Number(minMiners)], { timeout: 60000 });
  await page.click('#miners details summary');
  const shown = await page.evaluate(() => ({
    loss: [...document.querySelectorAll('#loss-chart circle')].map(c => ({ window: Number(c.dataset.window), loss: Number(c.dataset.loss) })),
    miners: [...document.querySelectorAll('#miners tr[data-uid]')].map(r => ({
      uid: Number(r.dataset.uid), earned_tao: Number(r.dataset.earned), scored: Number(r.dataset.scored), judged: Number(r.dataset.judged),
      earned_text: r.querySelector('td.earned').textContent })),
    receipts: Object.fromEntries([...document.querySelectorAll('#receipts tr[data-accepted]')].map(r => [r.dataset.accepted, Number(r.dataset.count)])),
    why: [...document.querySelectorAll('#miners details[open] table.why tr')].map(r => ({
      window: Number(r.dataset.window), outcome: r.dataset.outcome, reason: r.cells[3].textContent })),
  }));
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify(shown));
} finally {
  await browser.close();
}
