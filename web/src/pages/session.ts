// The header's sign-in box: dev sign-in by user name, who is signed in, and sign-out.
import { currentSession, onSessionChange, signIn, signOut, type Session } from "../api";
import { h, replace } from "../dom";
import { describe } from "../errors";

export function mountSessionBox(root: HTMLElement): void {
  const render = (session: Session | null): void => replace(root, session ? signedIn(session) : signInForm());
  onSessionChange(render);
  render(currentSession());
}

function signedIn(session: Session): HTMLElement {
  const out = h("button", { type: "button", "data-testid": "signout", class: "link" }, "Sign out");
  out.addEventListener("click", () => signOut());
  return h(
    "div",
    { class: "session" },
    h("a", { href: "#/me/bids", "data-testid": "my-bids-link" }, "My bids"),
    h("a", { href: "#/me/watching", "data-testid": "watching-link" }, "Watching"),
    "Signed in as ",
    h("strong", { "data-testid": "signed-in-user" }, session.userId),
    " ",
    out,
  );
}

function signInForm(): HTMLElement {
  const user = h("input", {
    name: "user_id",
    "data-testid": "signin-user",
    placeholder: "user name",
    autocomplete: "username",
    required: true,
    maxlength: "64",
    "aria-label": "User name",
  });
  const button = h("button", { type: "submit", "data-testid": "signin" }, "Sign in");
  const error = h("div", { class: "error", "data-testid": "signin-error", role: "alert" });
  const form = h("form", { class: "session" }, user, button, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    replace(error);
    try {
      await signIn(user.value.trim()); // re-renders the box through onSessionChange
    } catch (err) {
      const problem = describe(err);
      replace(error, problem.fields.get("user_id")?.join("; ") ?? problem.summary);
      button.disabled = false;
    }
  });
  return form;
}
