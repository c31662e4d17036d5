// The page: runs the shared training and publishes the result for the test (window.__result).
import { train } from './train.js';

let result;
try {
  result = train();
} catch (e) {
  result = { error: String(e && e.stack ? e.stack : e) };
}
window.__result = result;
document.querySelector('#out').textContent = JSON.stringify(result, null, 2);
