// LTI platform storage (1EdTech's client-side postMessage storage): ask the platform's
// storage frame to put or get values, and answer with what it said. Messages go to the
// platform's origin only, and only answers from that origin, with the message id sent, count.
// Resolves with {key: value} once every key is answered, or null on any error or after
// config.timeout ms (a platform that says nothing must not hold the page).
function ltiPlatformStorage(config, subject, entries) {
  var parent = window.parent;
  var frame = null;
  try {
    frame = config.target === "_parent" ? parent : parent.frames[config.target];
  } catch (error) {
    frame = null;
  }
  if (!frame || parent === window) return Promise.resolve(null);
  return new Promise(function (resolve) {
    var prefix = "cx-" + Math.random().toString(36).slice(2) + "-";
    var waiting = {};
    var answers = {};
    var left = entries.length;
    function finish(result) {
      window.removeEventListener("message", listen);
      clearTimeout(timer);
      resolve(result);
    }
    function listen(event) {
      var data = event.data;
      if (event.origin !== config.origin || !data || typeof data !== "object") return;
      if (data.subject !== subject + ".response" || !(data.message_id in waiting)) return;
      var key = waiting[data.message_id];
      delete waiting[data.message_id];
      if (data.error || data.key !== key) return finish(null);
      answers[key] = data.value;
      if (--left === 0) finish(answers);
    }
    var timer = setTimeout(function () { finish(null); }, config.timeout);
    window.addEventListener("message", listen);
    entries.forEach(function (entry, index) {
      var id = prefix + index;
      var message = {subject: subject, message_id: id, key: entry[0]};
      if (subject === "lti.put_data") message.value = entry[1];
      waiting[id] = entry[0];
      frame.postMessage(message, config.origin);
    });
  });
}
