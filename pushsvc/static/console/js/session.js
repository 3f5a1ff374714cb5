// Who is logged in, and whether the console is in test (訓練) mode — shown on every screen.
const MODE_KEY = 'pushsvc.console.test';
const listeners = new Set();

export const session = {
  operator: null,
  test: sessionStorage.getItem(MODE_KEY) !== '0',  // a fresh tab starts in test mode: live is a choice
  setTest(on) {
    this.test = Boolean(on);
    sessionStorage.setItem(MODE_KEY, on ? '1' : '0');
    listeners.forEach((fn) => fn(this.test));
  },
  onMode(fn) { listeners.add(fn); },
};
