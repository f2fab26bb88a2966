"""Hebrew requests as people write them, with the tools their plan must have, in order.

Every intent the English corpus has, several ways: imperative and future
forms, prefixed words (ו/ה/ב/ל/מ/ש), Hebrew dates and times, and mixed
Hebrew/English text (file names, addresses, "CSV" inside a Hebrew sentence).
Planned against the same drive as the English corpus (tests/planner_corpus.py),
whose files are named in English. Used by tests/test_planner_corpus.py.
"""

from __future__ import annotations

from tests.planner_corpus import CL, SU, C, D, E, L, R, S, W

CORPUS_HE: list[tuple[str, tuple[str, ...] | str]] = [
    # Analyse data
    ("סכם את קבצי ה-CSV של המכירות", (S, D)),
    ("תסכם לי את קבצי המכירות", (S, D)),
    ("נתח את customers.csv", (D,)),
    ("כמה שורות יש ב-customers.csv?", (D,)),
    ("תנתח את q1.csv ואת q2.csv", (D,)),
    ("תן לי סטטיסטיקות על נתוני המכירות", (S, D)),
    ("מה הסכום הכולל בקובץ sales_q1.csv", (D,)),
    ("חשב ממוצעים לכל קבצי ה-CSV", (S, D)),
    ("תאר את inventory.json", (D,)),
    ("אפשר סקירה כללית של נתוני הלקוחות?", (S, D)),
    ("סכמי בבקשה את גיליונות המכירות", (S, D)),
    ("נתחו את נתוני המלאי", (S, D)),
    ("תספור את השורות בכל קבצי ה-CSV", (S, D)),
    ("תוכל לסכם את קבצי ה-csv בכונן?", (S, D)),
    ("summarise את sales_q1.csv ו-sales_q2.csv", (D,)),
    # Summarise text
    ("סכם את הערות הפגישה", (S, SU)),
    ("תמצת את notes/supplier-call.txt", (SU,)),
    ("מה הנקודות העיקריות ב-notes/meeting-notes.md?", (SU,)),
    # Reports
    ("סכם את קבצי ה-CSV של המכירות וכתוב דוח", (S, D, R)),
    ("הכן דוח על נתוני המכירות", (S, D, R)),
    ("כתוב דוח על customers.csv", (D, R)),
    ("תכין דוח מסכם על גיליונות הלקוחות", (S, D, R)),
    ("תפיק דוח על כל קבצי ה-CSV", (S, D, R)),
    ("נתח את המכירות בקבצי ה-CSV והפק דוח", (S, D, R)),
    ("צור דוח על inventory.json", (D, R)),
    # Reports mailed
    ("הכן דוח על נתוני המכירות ושלח אותו ל-team@example.com", (S, D, R, E)),
    ("סכם את קבצי המכירות, כתוב דוח ושלח אותו לbob@example.com", (S, D, R, E)),
    ("נתח את customers.csv ושלח את הסיכום ל-alice@example.com", (D, R, E)),
    ("תנתח את גיליונות המכירות ותשלח את התוצאות ל-boss@example.com", (S, D, R, E)),
    ("כתוב דוח על נתוני הלקוחות ושלח לי אותו במייל", (S, D, R, E)),
    ("שלח ל-carol@example.com סטטיסטיקות על sales_q1.csv", (D, R, E)),
    ("סכם את הערות הפגישה ושלח אותן ל-team@example.com", (S, SU, R, E)),
    # Mail an existing report or files
    ("שלח את הדוח האחרון ל-bob@example.com", (S, E)),
    ("תעביר את הדוח העדכני ל-team@example.com", (S, E)),
    ("שלח לי את הדוח האחרון", (S, E)),
    ("שתף את הדוח האחרון עם alice@example.com", (S, E)),
    ("שלח את customers.csv ל-alice@example.com", (E,)),
    ("שלחי את קבצי ה-CSV של המכירות ל-bob@example.com", (S, E)),
    # Plain mail
    ("שלח מייל ל-bob@example.com לומר שהפגישה זזה לשלוש", (E,)),
    ("תשלח הודעה ל-alice@example.com שהמספרים מוכנים", (E,)),
    # List and find
    ("הצג את הקבצים בכונן", (L,)),
    ("מה יש בכונן?", (L,)),
    ("אילו קבצים יש לנו", (L,)),
    ("הראה לי את כל קבצי ה-CSV", (S,)),
    ("מצא את קבצי המכירות", (S,)),
    ("חפש קבצים שמזכירים supplier", (S,)),
    ("תראה לי את קבצי ה-json בכונן", (S,)),
    ("חפש בכונן קבצי לקוחות", (S,)),
    # Schedule
    ("קבע פגישת סקירה מחר ב-10", (C,)),
    ("תקבע פגישה ביום שישי בשלוש", (C,)),
    ("קבע פגישה ב-15 בדצמבר ב-14:00", (C,)),
    ("תזכיר לי בעוד שעתיים להתקשר לספק", (C,)),
    ("תזכיר לי מחר ב-9 לשלם חשבון חשמל", (C,)),
    ("קבע שיחה עם bob@example.com מחר ב-11", (C,)),
    ("תאם פגישה עם alice@example.com ביום שני הבא ב-9:30", (C,)),
    ("קבעי ראיון ב-2026-12-02 ב-11:00 למשך 45 דקות", (C,)),
    ("שריין ביומן סדנה ביום חמישי ב-10 בבוקר", (C,)),
    ("תזמן סטנדאפ מחר ב-9:15 ל-30 דקות", (C,)),
    ("הוסף ליומן ארוחת צהריים עם הצוות ביום שישי ב-12:30", (C,)),
    ("קבע פגישה בעוד חצי שעה", (C,)),
    ("תקבע שיחת וידאו עם הספק מחרתיים ב-4 אחר הצהריים", (C,)),
    ("קבע פגישת תכנון ב-3 במרץ 2027 ב-10:00", (C,)),
    ("schedule פגישה מחר בעשר", (C,)),
    # Combinations
    ("סכם את קבצי ה-CSV של המכירות וקבע פגישת סקירה מחר ב-10", (S, D, C)),
    ("נתח את נתוני המכירות וקבע סקירה עם alice@example.com ביום שישי ב-14:00", (S, D, C)),
    ("כתוב דוח על קבצי המכירות וקבע פגישה לדון בו מחר ב-3", (S, D, R, C)),
    ("נתח את customers.csv ותקבע פגישה עם bob@example.com מחר ב-15:00", (D, C)),
    (
        "סכם את גיליון הלקוחות, שלח את התוצאות ל-bob@example.com וקבע שיחה מחר ב-4",
        (S, D, R, E, C),
    ),
    # Calendar listing
    ("מה יש לי ביומן?", (CL,)),
    ("הצג את היומן שלי למחר", (CL,)),
    ("מה הפגישות הקרובות שלי", (CL,)),
    # Web
    ("הורד את https://example.com/news וסכם אותו", (W, SU)),
    ("פתח את https://example.com/status", (W,)),
    ("סכם את https://example.com/article", (W, SU)),
    ("קרא את https://example.com/page ושלח סיכום ל-bob@example.com", (W, SU, R, E)),
    # Questions expected: these must ask
    ("כתוב דוח", "ask:files"),
    ("קבע פגישת סקירה עם alice@example.com", "ask:when"),
    ("סכם את הנתונים", "ask:files"),
    ("שלח את הדוח האחרון", "ask:to"),
    ("נתח את קבצי השיווק", "ask:files"),
    ("תזכיר לי להתקשר לספק", "ask:when"),
    # Nothing can serve these
    ("תכין לי כריך", "refuse"),
    ("מה משמעות החיים", "refuse"),
]
