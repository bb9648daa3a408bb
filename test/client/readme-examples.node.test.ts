import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * README's "Use it from your app" shows the example files' code; the tests run those files (the
 * overlay in Chromium, the bot from the packed tarball). This keeps what README shows the same.
 */

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');

describe('README examples', () => {
  it("shows the overlay's script exactly as examples/overlay/index.html runs it", () => {
    const script = /<script type="module">\n([\s\S]*?)<\/script>/.exec(read('examples/overlay/index.html'))![1]!;
    expect(readme).toContain(`\`\`\`js\n${script}\`\`\``);
  });

  it('shows the bot exactly as examples/twurple-bot.ts runs it (after its how-to-run comment)', () => {
    const code = read('examples/twurple-bot.ts').replace(/^(\/\/.*\n)+/, '');
    expect(readme).toContain(`\`\`\`ts\n${code}\`\`\``);
  });
});
