import { describe, expect, it } from 'vitest';
import { isGuestPathUnder, normaliseGuestPath } from '../../src/formats/guestpath.js';

describe('normaliseGuestPath: one spelling per path (issue 17 item 2)', () => {
  it('folds //, /./ and a trailing slash', () => {
    for (const p of ['/home//alice/.bashrc', '/home/./alice/.bashrc', '//home/alice/.bashrc', '/home/alice/.bashrc/', '/home/alice//./.bashrc']) {
      expect(normaliseGuestPath(p), p).toEqual({ ok: true, path: '/home/alice/.bashrc' });
    }
    expect(normaliseGuestPath('/')).toEqual({ ok: true, path: '/' });
    expect(normaliseGuestPath('/home/alice/')).toEqual({ ok: true, path: '/home/alice' });
  });

  it('refuses relative paths, NUL and ".." (only Root may resolve it, next to links)', () => {
    expect(normaliseGuestPath('home/alice')).toMatchObject({ ok: false });
    expect(normaliseGuestPath('/home/al\0ice')).toMatchObject({ ok: false });
    expect(normaliseGuestPath('/home/alice/../alice/.bashrc')).toMatchObject({ ok: false, reason: 'must not contain ".."' });
  });

  it('isGuestPathUnder compares whole components', () => {
    expect(isGuestPathUnder('/home/alice/x', '/home/alice')).toBe(true);
    expect(isGuestPathUnder('/home/alice', '/home/alice')).toBe(true);
    expect(isGuestPathUnder('/home/alicex/y', '/home/alice')).toBe(false);
    expect(isGuestPathUnder('/anything', '/')).toBe(true);
  });
});
