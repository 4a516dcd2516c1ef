// @ts-check
/**
 * The pages: one module, plain DOM, no framework and no build step. Each route of the app is a
 * function that fills <main>; links with `data-link` navigate without a reload. Text from the
 * API is only ever set as text (never as HTML). After each navigation the page's heading takes
 * the focus, so that a screen reader announces the new page; results are announced by the
 * status region.
 */
import * as api from './api.js';
import { messageFor } from './messages.js';

/** @typedef {import('./api.js').User} User */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const status = /** @type {HTMLElement} */ (document.getElementById('status'));

/**
 * A small element builder: `h('p', {class: 'hint'}, 'text', child)`.
 * @param {string} tag
 * @param {Record<string, string | boolean | ((event: Event) => void)>} [attributes]
 * @param {...(Node | string | null | undefined | false)} children
 */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false) element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child) element.append(child);
  }
  return element;
}

/** @param {string} text @param {'info' | 'error'} [kind] */
function say(text, kind = 'info') {
  status.className = kind === 'error' ? 'error' : '';
  status.textContent = text;
}

/** Shows an API failure: the human message, and per-field problems next to their fields.
 * @param {unknown} error @param {HTMLFormElement} [form] */
function fail(error, form) {
  if (!(error instanceof api.ApiError)) throw error;
  say(messageFor(error), 'error');
  if (form) {
    for (const [field, problem] of Object.entries(error.details)) {
      const input = form.querySelector(`[name="${field}"]`);
      const note = form.querySelector(`#${field}-error`);
      if (input && note) {
        input.setAttribute('aria-invalid', 'true');
        note.textContent = `This ${field.replace(/_/g, ' ')} ${problem}.`;
      }
    }
  }
}

/**
 * A labelled input with a slot for its error.
 * @param {string} label @param {string} name @param {string} type
 * @param {Record<string, string | boolean>} [extra]
 */
function field(label, name, type, extra = {}) {
  return h(
    'label',
    {},
    label,
    h('input', {
      name,
      type,
      id: name,
      'aria-describedby': `${name}-error`,
      ...extra,
    }),
    h('span', { class: 'field-error', id: `${name}-error` }),
  );
}

/**
 * A form whose submit runs `action` with its values, the button disabled meanwhile.
 * @param {string} submit the button's text
 * @param {(values: Record<string, string>, form: HTMLFormElement) => Promise<void>} action
 * @param {...Node} fields
 */
function form(submit, action, ...fields) {
  const button = h('button', { type: 'submit' }, submit);
  const element = /** @type {HTMLFormElement} */ (h('form', { novalidate: true }, ...fields, button));
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const input of element.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    for (const note of element.querySelectorAll('.field-error')) note.textContent = '';
    const values = Object.fromEntries(
      [...new FormData(element).entries()].map(([k, v]) => [k, String(v)]),
    );
    button.setAttribute('disabled', '');
    try {
      await action(values, element);
    } catch (error) {
      fail(error, element);
    } finally {
      button.removeAttribute('disabled');
    }
  });
  return element;
}

/** Replaces the page: its title, its heading (focused) and its content.
 * @param {string} title @param {...(Node | string | null | false)} content */
function page(title, ...content) {
  document.title = `${title} · Accounts`;
  const heading = h('h1', { tabindex: '-1' }, title);
  main.replaceChildren(heading, ...content.filter((c) => c !== null && c !== false).map((c) => /** @type {Node | string} */ (c)));
  heading.focus();
}

/** Goes to `path` (pushing it on the history). @param {string} path */
function go(path) {
  if (location.pathname + location.hash !== path) history.pushState(null, '', path);
  render();
}

/** A link inside the app. @param {string} path @param {string} text */
function link(path, text) {
  return h('a', { href: path, 'data-link': true }, text);
}

/** The token of an email link (`#token=…`), removed from the address bar once read. */
function fragmentToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token) history.replaceState(null, '', location.pathname);
  return token;
}

// ------------------------------------------------------------------ pages

function home() {
  const user = api.user();
  if (!user) {
    page(
      'Welcome',
      h('p', {}, 'Sign in to your account, or create one.'),
      h('p', {}, link('/sign-in', 'Sign in'), ' · ', link('/sign-up', 'Create an account')),
    );
    return;
  }
  page(
    `Hello, ${user.name || user.email}`,
    !user.email_verified &&
      h(
        'p',
        {},
        'Your email address is not confirmed yet. ',
        h('button', {
          type: 'button',
          class: 'link',
          onclick: async () => {
            try {
              await api.resendVerification();
              say(`We sent a new confirmation message to ${user.email}.`);
            } catch (error) {
              fail(error);
            }
          },
        }, 'Send the link again'),
      ),
    h('p', { 'data-private': true }, `Signed in as ${user.email}.`),
  );
}

function signUp() {
  page(
    'Create an account',
    form(
      'Create account',
      async (values) => {
        const user = await api.register({
          email: values.email,
          password: values.password,
          ...(values.name ? { name: values.name } : {}),
        });
        if (user) {
          say(`Welcome! We sent a confirmation link to ${user.email}.`);
          go('/');
        } else {
          say('Check your inbox: we sent you a link to confirm your address.');
          go('/verify');
        }
      },
      field('Name (optional)', 'name', 'text', { autocomplete: 'name' }),
      field('Email', 'email', 'email', { autocomplete: 'email', required: true }),
      field('Password', 'password', 'password', { autocomplete: 'new-password', required: true, minlength: '8' }),
    ),
    h('p', {}, 'Already have an account? ', link('/sign-in', 'Sign in')),
  );
}

function signIn() {
  page(
    'Sign in',
    form(
      'Sign in',
      async (values) => {
        await api.login({ email: values.email, password: values.password });
        say('');
        go('/');
      },
      field('Email', 'email', 'email', { autocomplete: 'username', required: true }),
      field('Password', 'password', 'password', { autocomplete: 'current-password', required: true }),
    ),
    h('p', {}, link('/forgot', 'Forgot your password?'), ' · ', link('/sign-up', 'Create an account')),
  );
}

async function profilePage() {
  let { user, etag } = await api.profile();
  const view = () => {
    page(
      'Profile',
      h('p', { 'data-private': true }, `Email: ${user.email}`, user.email_verified ? ' (confirmed)' : ' (not confirmed yet)'),
      user.pending_email &&
        h('p', { id: 'pending' }, `Waiting for confirmation: ${user.pending_email}. Open the link we sent there to switch.`),
      h('h2', {}, 'Name'),
      form(
        'Save name',
        async (values) => {
          try {
            ({ user, etag } = await api.updateProfile({ name: values.name }, etag));
            say('Your name was saved.');
            view();
          } catch (error) {
            if (error instanceof api.ApiError && error.code === 'precondition_failed') {
              ({ user, etag } = await api.profile());
              view();
            }
            throw error;
          }
        },
        field('Name', 'name', 'text', { autocomplete: 'name', value: user.name ?? '' }),
      ),
      h('h2', {}, 'Email address'),
      h('p', { class: 'hint' }, 'We send a link to the new address; it takes effect once you open it.'),
      form(
        'Change email',
        async (values) => {
          ({ user, etag } = await api.updateProfile(
            { email: values.email, current_password: values.current_password },
            etag,
          ));
          say(`Check ${values.email} for the link that confirms it.`);
          view();
        },
        field('New email', 'email', 'email', { autocomplete: 'email', required: true }),
        field('Current password', 'current_password', 'password', { autocomplete: 'current-password', required: true }),
      ),
    );
  };
  view();
}

function passwordPage() {
  page(
    'Change password',
    h('p', { class: 'hint' }, 'Every other device signed in to your account will be signed out.'),
    form(
      'Change password',
      async (values, element) => {
        await api.changePassword({ current_password: values.current_password, new_password: values.new_password });
        element.reset();
        say('Your password was changed. Other devices were signed out.');
      },
      field('Current password', 'current_password', 'password', { autocomplete: 'current-password', required: true }),
      field('New password', 'new_password', 'password', { autocomplete: 'new-password', required: true, minlength: '8' }),
    ),
  );
}

async function sessionsPage() {
  const list = await api.sessions();
  const rows = list.map((session) =>
    h(
      'tr',
      { 'data-private': true },
      h('td', {}, session.user_agent || 'Unknown device', session.current ? h('strong', {}, ' (this device)') : null),
      h('td', {}, session.ip_address || '—'),
      h('td', {}, new Date(session.last_used_at).toLocaleString()),
      h(
        'td',
        {},
        h('button', {
          type: 'button',
          class: 'danger',
          'aria-label': `End the session of ${session.user_agent || 'an unknown device'}${session.current ? ' (this device)' : ''}`,
          onclick: async () => {
            try {
              await api.endSession(session.id, session.current);
              say(session.current ? 'You are signed out.' : 'That session has ended.');
              if (!session.current) await sessionsPage();
            } catch (error) {
              fail(error);
            }
          },
        }, 'End'),
      ),
    ),
  );
  page(
    'Sessions',
    h('p', { class: 'hint' }, 'Where your account is signed in. End any you do not recognise.'),
    h(
      'table',
      {},
      h('caption', { class: 'muted' }, `${list.length} active`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Device'), h('th', { scope: 'col' }, 'Address'), h('th', { scope: 'col' }, 'Last used'), h('th', { scope: 'col' }, h('span', { class: 'muted' }, 'Action')))),
      h('tbody', {}, ...rows),
    ),
    list.length > 1 &&
      h('p', {}, h('button', {
        type: 'button',
        onclick: async () => {
          try {
            await api.endOtherSessions();
            say('Every other session has ended.');
            await sessionsPage();
          } catch (error) {
            fail(error);
          }
        },
      }, 'Sign out everywhere else')),
  );
}

function deletePage() {
  page(
    'Delete account',
    h('p', {}, 'This deletes your account and everything in it, at once and for good.'),
    form(
      'Delete my account',
      async (values) => {
        await api.deleteAccount({ current_password: values.current_password });
        say('Your account was deleted.');
        go('/');
      },
      field('Current password', 'current_password', 'password', { autocomplete: 'current-password', required: true }),
    ),
  );
}

/** The page an email link (or a typed code) confirms an address on: `verify` and `confirm-email`.
 * @param {string} title @param {string} done */
function confirmPage(title, done) {
  const token = fragmentToken();
  const confirmed = () => {
    say(done);
    go('/');
  };
  if (token) {
    page(title, h('p', {}, 'Confirming…'));
    api.confirmEmail({ token }).then(confirmed, (error) => {
      fail(error);
      codeForm();
    });
    return;
  }
  codeForm();
  function codeForm() {
    page(
      title,
      h('p', {}, 'Open the link in the message we sent you, or type its 8-digit code here.'),
      form(
        'Confirm',
        async (values) => {
          await api.confirmEmail({ email: values.email, code: values.code });
          confirmed();
        },
        field('Email', 'email', 'email', { autocomplete: 'email', required: true }),
        field('Code', 'code', 'text', { inputmode: 'numeric', autocomplete: 'one-time-code', required: true }),
      ),
    );
  }
}

function forgotPage() {
  page(
    'Forgot your password?',
    h('p', {}, 'We will send a link and a code to reset it, if the address has an account.'),
    form(
      'Send reset link',
      async (values) => {
        await api.forgotPassword({ email: values.email });
        say(`If ${values.email} has an account, a message is on its way.`);
        go('/reset');
      },
      field('Email', 'email', 'email', { autocomplete: 'email', required: true }),
    ),
  );
}

function resetPage() {
  const token = fragmentToken();
  const password = field('New password', 'new_password', 'password', { autocomplete: 'new-password', required: true, minlength: '8' });
  page(
    'Choose a new password',
    h('p', { class: 'hint' }, 'Every device signed in to your account will be signed out.'),
    form(
      'Set password',
      async (values) => {
        await api.resetPassword(
          token
            ? { token, new_password: values.new_password }
            : { email: values.email, code: values.code, new_password: values.new_password },
        );
        say('Your password was changed. Sign in with it.');
        go('/sign-in');
      },
      ...(token
        ? [password]
        : [
            field('Email', 'email', 'email', { autocomplete: 'email', required: true }),
            field('Code', 'code', 'text', { inputmode: 'numeric', autocomplete: 'one-time-code', required: true }),
            password,
          ]),
    ),
  );
}

function notFound() {
  page('Page not found', h('p', {}, link('/', 'Go to the start page')));
}

// ------------------------------------------------------------------ routing

/** @type {Record<string, {view: () => void | Promise<void>, session?: boolean}>} */
const ROUTES = {
  '/': { view: home },
  '/sign-up': { view: signUp },
  '/sign-in': { view: signIn },
  '/profile': { view: profilePage, session: true },
  '/password': { view: passwordPage, session: true },
  '/sessions': { view: sessionsPage, session: true },
  '/delete': { view: deletePage, session: true },
  '/verify': { view: () => confirmPage('Confirm your email', 'Your email address is confirmed.') },
  '/confirm-email': { view: () => confirmPage('Confirm your new email', 'Your new email address is confirmed.') },
  '/forgot': { view: forgotPage },
  '/reset': { view: resetPage },
};

function renderNav() {
  const user = api.user();
  /** @type {[string, string][]} */
  const links = user
    ? [['/profile', 'Profile'], ['/password', 'Password'], ['/sessions', 'Sessions'], ['/delete', 'Delete account']]
    : [['/sign-in', 'Sign in'], ['/sign-up', 'Create account']];
  const items = links.map(([path, text]) => {
    const a = link(path, text);
    if (location.pathname === path) a.setAttribute('aria-current', 'page');
    return h('li', {}, a);
  });
  if (user) {
    items.push(h('li', {}, h('button', {
      type: 'button',
      class: 'link',
      onclick: async () => {
        try {
          await api.logout();
        } catch (error) {
          fail(error);
        }
        say('You are signed out.');
        go('/');
      },
    }, 'Sign out')));
  }
  nav.replaceChildren(...items);
}

async function render() {
  renderNav();
  const route = ROUTES[location.pathname] ?? { view: notFound };
  if (route.session && !api.user()) {
    say('Please sign in to continue.');
    history.replaceState(null, '', '/sign-in');
    signIn();
    renderNav();
    return;
  }
  try {
    await route.view();
  } catch (error) {
    fail(error);
  }
}

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target.closest('a[data-link]') : null;
  if (!target || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  say('');
  go(/** @type {HTMLAnchorElement} */ (target).pathname);
});
window.addEventListener('popstate', () => render());

let started = false;
api.onSession((user, reason) => {
  if (!started) return;
  if (!user && reason && ['invalid_token', 'invalid_grant'].includes(reason)) {
    say('Your session has ended. Please sign in again.', 'error');
    go('/sign-in');
    return;
  }
  if (!user && reason === 'signed-out') {
    go('/');
    return;
  }
  renderNav();
});

await api.configure();
try {
  await api.refresh();
} catch (error) {
  fail(error);
}
started = true;
document.documentElement.dataset.ready = 'true';
await render();
