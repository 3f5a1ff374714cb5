// The phone side of a training-device enrolment link: /enrol#code=… redeems the one-time code with the
// subscription id + token the resident page keeps in localStorage (the code never leaves in a URL).
const STORE = 'pushsvc.subscription';
const status = document.getElementById('enrol-status');
const button = document.getElementById('enrol-button');
const code = new URLSearchParams(location.hash.slice(1)).get('code');
const saved = JSON.parse(localStorage.getItem(STORE) || 'null');

function say(text, state) {
  status.textContent = text;
  document.body.dataset.enrol = state;
}

if (!code) {
  say('登録用のリンクが正しくありません。運用者に新しいリンクを依頼してください。', 'invalid');
} else if (!saved) {
  say('先にこの端末で通知を登録してください（下のリンク）。登録後、もう一度このリンクを開いてください。', 'not-subscribed');
} else {
  say('ボタンを押すと、この端末が訓練用端末になります。', 'ready');
  button.hidden = false;
  button.addEventListener('click', async () => {
    button.disabled = true;
    const r = await fetch(`/api/v1/subscriptions/${saved.id}/training-enrolment`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${saved.token}` },
      body: JSON.stringify({ code }),
    });
    if (r.ok) {
      history.replaceState(null, '', '/enrol');  // the used code leaves the address bar
      button.hidden = true;
      say('この端末は訓練用端末になりました。訓練メッセージが届きます。', 'done');
    } else {
      const problem = await r.json().catch(() => ({}));
      button.disabled = false;
      say(r.status === 410 ? 'このリンクは使用済みか期限切れです。運用者に新しいリンクを依頼してください。'
        : `登録できませんでした：${problem.detail || r.status}`, 'failed');
    }
  });
}
