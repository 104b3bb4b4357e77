// Sign-in: by user and password, or the first time by the bootstrap token; as a page and as a dialog.
import { h, form, modal } from '../ui.js';
import { signIn } from '../api.js';

/** A sign-in form; onDone(user) runs once signed in. opts.user pre-fills the user name. */
export function signInForm(onDone, opts = {}) {
  const box = h('div', { class: 'signin' });
  let useToken = false;
  const draw = () => {
    const f = useToken
      ? form([
        { name: 'token', label: 'Bootstrap token', type: 'password', required: true, autocomplete: 'off',
          hint: 'The contents of data_dir/admin-token, written on the first start.' },
      ], async v => onDone(await signIn({ token: v.token })), { submit: 'Sign in' })
      : form([
        { name: 'user', label: 'User', required: true, autocomplete: 'username', value: opts.user },
        { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
      ], async v => onDone(await signIn({ user: v.user, password: v.password })), { submit: 'Sign in' });
    const toggle = h('button', { type: 'button', class: 'link', on: { click: () => { useToken = !useToken; draw(); } } },
      useToken ? 'Sign in with a user and password' : 'Sign in with the bootstrap token');
    box.replaceChildren(f, h('p', null, toggle));
    const first = f.querySelector('input');
    if (first) setTimeout(() => (opts.user && !useToken ? f.controls.password : first).focus(), 0);
  };
  draw();
  return box;
}

/**
 * The dialog shown over the current page when the session has ended; resolves once signed in
 * again (the page underneath, and whatever was typed in it, stays as it was).
 */
export function signInDialog(opts = {}) {
  return modal('Your session has ended', h('div', null,
    h('p', null, 'Sign in again to continue; nothing you typed is lost.'),
    h('div', { class: 'dialog-body' })), {
    noCancel: true,
    onOpen: (close, dlg) => {
      dlg.classList.add('signin-dialog');
      dlg.querySelector('.dialog-body').append(signInForm(user => close(user), opts));
    },
  });
}

export default {
  id: 'signin',
  title: 'Sign in',
  roles: [],
  hidden: true,
  render: async (root, params, ctx = {}) => {
    root.replaceChildren(h('div', { class: 'signin-page' },
      h('div', { class: 'panel' },
        h('h1', null, 'Sign in to Portico'),
        signInForm(user => ctx.onSignedIn && ctx.onSignedIn(user)))));
  },
};
