//! Scenario 8: every piece of text the board shows has WCAG 2 AA contrast with what is behind it (4.5:1, or
//! 3:1 for large text), in light and in dark: the structure list, a structure with a selected row, the status
//! bar, and each dialog of the toolbar.

use anyhow::ensure;
use serde_json::json;

use crate::browse::epics_example;
use crate::harness::{Board, Result, Scheme};

/// In the page: every visible element with text of its own — text nodes, the value of a field or list box,
/// or a field's placeholder while it is empty — its colour against the colours composited behind it (its own
/// and its ancestors' backgrounds, in the dialog's top layer where it is in one), and the contrast ratio.
/// Resolves to the pieces below AA. Disabled controls are exempt, as WCAG exempts them.
const BELOW_AA: &str = r"
const rgba = (text) => {
  const m = /rgba?\(([^)]*)\)/.exec(text);
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, under) => {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat(1);
};
const luminance = (c) => {
  const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const ratio = (a, b) => {
  const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
};
const canvas = rgba(getComputedStyle(document.documentElement).backgroundColor);
const behind = (element) => {
  const chain = [];
  for (let e = element; e; e = e.parentElement) chain.unshift(e);
  let color = canvas && canvas[3] > 0 ? canvas : (matchMedia('(prefers-color-scheme: dark)').matches ? [18, 18, 18, 1] : [255, 255, 255, 1]);
  for (const e of chain) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) color = over(c, color);
  }
  return color;
};
const below = [];
const field = 'input:not([type=checkbox]):not([type=radio]):not([type=range]):not([type=color]):not([type=hidden]), textarea, select';
for (const element of document.querySelectorAll('body *')) {
  const isField = element.matches(field);
  const placeholder = isField && !element.value && element.placeholder;
  const own = isField
    ? Boolean(element.value || placeholder)
    : [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || element.closest('[disabled], [aria-disabled=true], [hidden], script, style, option')) continue;
  if (!element.getClientRects().length) continue;
  const style = placeholder ? getComputedStyle(element, '::placeholder') : getComputedStyle(element);
  if (getComputedStyle(element).visibility !== 'visible') continue;
  let opacity = 1;
  for (let e = element; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
  const back = behind(element);
  const color = rgba(style.color);
  if (!color) continue;
  const text = over([color[0], color[1], color[2], color[3] * opacity], back);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  const r = ratio(text, back);
  if (r < (large ? 3 : 4.5)) {
    const shown = isField ? (placeholder ? `placeholder: ${element.placeholder}` : `value: ${element.value}`) : element.textContent.trim();
    below.push({ text: shown.slice(0, 40), class: element.className, ratio: Math.round(r * 100) / 100,
                 color: style.color, background: `rgb(${back.slice(0, 3).map(Math.round).join(', ')})` });
  }
}
return below;
";

/// Fails with every piece of text below AA on the page as it is now.
async fn readable(board: &Board, page: &str) -> Result {
    let below = board.js(BELOW_AA, vec![]).await?;
    ensure!(
        below.as_array().is_some_and(Vec::is_empty),
        "{page}: text below AA contrast: {below:#}"
    );
    Ok(())
}

pub(crate) async fn contrast_aa(board: &Board, scheme: Scheme) -> Result {
    board.sign_in("admin").await?;
    let dark = board
        .js(
            "return matchMedia('(prefers-color-scheme: dark)').matches;",
            vec![],
        )
        .await?;
    ensure!(
        dark == json!(scheme == Scheme::Dark),
        "the page is shown in the {scheme:?} scheme: dark = {dark}"
    );
    readable(board, "the structure list").await?;

    let (name, _) = epics_example(board).await?;
    board.open_structure(&name).await?;
    // A selected row, with focus.
    board
        .row_element(&first_title(board).await?)
        .await?
        .click()
        .await?;
    readable(board, "the board with a selected row").await?;

    for (button, close) in [
        ("Columns…", "Cancel"),
        ("Generators…", "Close"),
        ("Permissions…", "Cancel"),
        ("History…", "Close"),
        ("Add…", "Cancel"),
    ] {
        board.click_button(button).await?;
        board
            .wait(
                "the dialog",
                "return document.querySelector('dialog[open]') !== null;",
                vec![],
            )
            .await?;
        readable(board, &format!("the dialog of “{button}”")).await?;
        board.click_button(close).await?;
        board.wait_no_dialog().await?;
    }
    Ok(())
}

/// The first row's issue key or title.
async fn first_title(board: &Board) -> Result<String> {
    let rows = board.rows().await?;
    let first = rows.first().map(|row| row.name().to_owned());
    first.ok_or_else(|| anyhow::anyhow!("the structure shows rows"))
}
