/// RFC 3261 §12–15: dialogs and INVITE sessions as pure values. Filled in by the user-agent issue.
public enum SIPDialogLayer {}
