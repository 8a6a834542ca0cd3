// Which font lists the page uses (app.css). On Linux the web view is WebKitGTK, which looks
// every named family up in fontconfig, again for every size and weight: there the generic
// families alone (the desktop's own fonts) lay the first screen out about three times faster.

/** Whether this web view should use the generic families only. */
export function prefersGenericFonts(userAgent: string): boolean {
  // WebKitGTK says "X11; Linux" (also under Wayland); Android's web views never run Casebook.
  return /\bLinux\b/.test(userAgent) && !/\bAndroid\b/.test(userAgent);
}

/** Marks <html> for app.css; called before anything is drawn. */
export function chooseFonts(root: HTMLElement = document.documentElement, userAgent = navigator.userAgent): void {
  if (prefersGenericFonts(userAgent)) root.dataset.fonts = "generic";
  else delete root.dataset.fonts;
}
