// Snapshot fixture (snapshot.html): what markup cannot make.
"use strict";
(() => {
  const host = document.getElementById("sn-shadow-host");
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = '<style>p { color: green; }</style><p class="rr-mask">in the shadow root</p><slot></slot>';
  document.getElementById("sn-scroller").scrollTop = 100;
  const box = document.getElementById("sn-constructed");
  box.appendChild(document.createElement("odd.tag")).textContent = "an invalid tag name for rrweb";
  box.appendChild(document.createElement("UPPER")).textContent = "created upper case";
  box.appendChild(document.createTextNode(""));
  box.appendChild(document.createTextNode("   "));
  box.appendChild(document.createComment("a constructed comment"));
  const element = box.appendChild(document.createElement("div"));
  element.setAttribute("data-Mixed", "mixed-case name");
  element.setAttributeNS("http://example.com/ns", "ns:attr", "namespaced");
  element.setAttributeNS("http://example.com/ns", "Capital", "namespaced with a capital");
  const script = document.createElement("script");
  script.textContent = "/* a body script */";
  box.appendChild(script);
  document.querySelector("[name=area]").value = "changed by script";
})();
