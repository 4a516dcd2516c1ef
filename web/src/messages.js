// @ts-check
/** What the person reads for each error code of the API (docs/openapi.yaml's ErrorCode), and for
 * the client's own failures. The type makes a code the API adds without a message here a type
 * error in `make web-check`.
 * @typedef {import('./api-types').components['schemas']['ErrorCode']} ErrorCode
 * @type {Record<ErrorCode | 'network_error' | 'unexpected_response', string>}
 */
export const MESSAGES = {
  bad_request: 'The request could not be understood. Please reload the page and try again.',
  malformed_json: 'The request could not be understood. Please reload the page and try again.',
  validation_failed: 'Please check the highlighted fields.',
  invalid_code: 'That link or code is invalid or has expired. Ask for a new one.',
  invalid_credentials: 'The email or password is incorrect.',
  invalid_grant: 'Your session has ended. Please sign in again.',
  missing_token: 'Please sign in to continue.',
  invalid_token: 'Your session has ended. Please sign in again.',
  email_not_verified: 'Please confirm your email address first: use the link or code we sent you.',
  session_not_found: 'That session has already ended.',
  email_taken: 'An account with this email already exists. Sign in, or reset its password.',
  precondition_failed: 'Your profile was changed somewhere else (another tab or device). We loaded the latest version: check it and save again.',
  payload_too_large: 'That is too long. Please shorten it and try again.',
  unsupported_media_type: 'The request could not be understood. Please reload the page and try again.',
  origin_not_allowed: 'This page is not allowed to use your session. Open the app from its own address.',
  too_many_attempts: 'Too many attempts. Please wait before trying again.',
  service_unavailable: 'The service is busy right now. Please try again in a moment.',
  internal_error: 'Something went wrong on our side. Please try again.',
  network_error: 'Could not reach the service. Check your connection and try again.',
  unexpected_response: 'The service answered unexpectedly. Please try again.',
};

/** The message for an error, with the wait when the API says how long.
 * @param {{code: keyof typeof MESSAGES, retryAfter?: number | null}} error */
export function messageFor(error) {
  const text = MESSAGES[error.code] ?? MESSAGES.unexpected_response;
  if (error.code === 'too_many_attempts' && error.retryAfter) {
    return `${text} (about ${error.retryAfter} seconds)`;
  }
  return text;
}
