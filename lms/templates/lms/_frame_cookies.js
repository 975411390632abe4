// Whether this browser keeps the tool's cookies in this page: a test cookie with the
// attributes of the state and session cookies (Partitioned included over HTTPS, so a browser
// that blocks third-party cookies but keeps partitioned ones, CHIPS, says yes).
function toolCookiesKept() {
  var attributes = window.location.protocol === "https:" ? "; SameSite=None; Secure; Partitioned" : "";
  var name = "lti1p3_cookie_check";
  document.cookie = name + "=1; path=/; max-age=60" + attributes;
  var kept = navigator.cookieEnabled && document.cookie.indexOf(name + "=1") !== -1;
  document.cookie = name + "=; path=/; max-age=0" + attributes;
  return kept;
}

// The last resort: the activity in a window of its own, where its cookies are first-party.
// Opened with a handle (not "noopener"), so that a content selection finished there can be
// handed back to this page, inside the course page where the LMS expects it (a Moodle
// dialog cannot take it from another window). Only that window, on this origin, is heard.
// Returns the new window's name, for a link or form to target; null if it was blocked.
function openToolWindow() {
  var name = "cx-academy-" + Math.random().toString(36).slice(2);
  var child = window.open("", name);
  if (!child) return null;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== child || event.origin !== window.location.origin) return;
    if (!data || data.subject !== "cx.deep_linking_response") return;
    if (typeof data.action !== "string" || typeof data.jwt !== "string") return;
    child.postMessage({subject: "cx.deep_linking_response.received"}, window.location.origin);
    var form = document.createElement("form");
    form.method = "post";
    form.action = data.action;
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = "JWT";
    field.value = data.jwt;
    form.appendChild(field);
    document.body.appendChild(form);
    form.submit();
  });
  return name;
}
