"""Demo subtitles: a Chinese source season for the showcase title, with one approved
English track. Idempotent and fast (a few episodes of a dozen events, no translation
job): the rest is for the visitor to try."""

from __future__ import annotations

from sqlalchemy import select

from catalog.models import Episode, Title
from localization import domain, services
from localization.formats import Cue, write_srt
from localization.models import SubtitleTrack
from marketplace.accounts.models import Organization
from marketplace.extensions import db

SHOWCASE_ORGS = ("huangpu-pictures", "lujiazui-ai-studio", "zhangjiang-shorts")
EPISODES = 3

# (Chinese, English) lines; timings are laid out below.
SCRIPT = [
    [("你好，我是林婉儿。", "Hi, I'm Lin Wan'er."),
     ("今天是我第一天上班。", "Today is my first day at work."),
     ("总裁办公室在几楼？", "Which floor is the CEO's office on?"),
     ("三十八楼，电梯在左边。", "Thirty-eighth. The lift is on the left."),
     ("谢谢！", "Thank you!"),
     ("等一下，你的工牌呢？", "Wait, where's your badge?"),
     ("我……我忘在家里了。", "I... I left it at home."),
     ("没有工牌，不能进去。", "No badge, no entry."),
     ("让她上来。", "Let her come up."),
     ("顾总？！", "Mr. Gu?!"),
     ("她是我请来的人。", "She's here at my invitation."),
     ("欢迎来到顾氏集团。", "Welcome to the Gu Group.")],
    [("这份合同必须马上签字。", "This contract must be signed right away."),
     ("顾总，您还没看条款。", "Mr. Gu, you haven't read the terms."),
     ("我相信你的判断。", "I trust your judgement."),
     ("可是第七条有问题。", "But clause seven is a problem."),
     ("说下去。", "Go on."),
     ("违约金是合同金额的十倍。", "The penalty is ten times the contract value."),
     ("谁起草的？", "Who drafted it?"),
     ("法务部的陈经理。", "Manager Chen from Legal."),
     ("叫他来见我。", "Tell him to come and see me."),
     ("林婉儿，你做得很好。", "Lin Wan'er, well done."),
     ("这是我应该做的。", "Just doing my job."),
     ("今晚一起吃饭吧。", "Have dinner with me tonight.")],
    [("你为什么要帮我？", "Why are you helping me?"),
     ("因为三年前，你救过我。", "Because three years ago, you saved me."),
     ("在外滩那个雨夜。", "That rainy night on the Bund."),
     ("原来是你……", "So it was you..."),
     ("我找了你很久。", "I've been looking for you for a long time."),
     ("可是我只是一个小职员。", "But I'm just a junior clerk."),
     ("在我眼里，你不是。", "Not in my eyes."),
     ("顾总，董事长来了。", "Mr. Gu, the chairman is here."),
     ("让他等着。", "Let him wait."),
     ("婉儿，明天跟我回家。", "Wan'er, come home with me tomorrow."),
     ("见你的家人？", "To meet your family?"),
     ("见我们的家人。", "To meet our family.")],
]


def _cues(lines: list[str]) -> list[Cue]:
    cues, start = [], 1000
    for n, text in enumerate(lines, 1):
        # About 5 characters a second for Chinese (the limit is 9), at least 1.5 s.
        duration = max(1500, min(4000, 350 * len(text)))
        cues.append(Cue(n, start, start + duration, text))
        start += duration + 600
    return cues


def _showcase_title() -> Title | None:
    """The catalog demo's showcase title (it has episode masters to play in the review
    editor), else the first Chinese title of a demo producer."""
    try:
        from catalog.demo import SHOWCASE
    except ImportError:  # pragma: no cover - a catalog without demo data
        SHOWCASE = set()
    if SHOWCASE:
        title = db.session.scalar(select(Title).where(Title.original_title.in_(sorted(SHOWCASE)))
                                  .order_by(Title.id).limit(1))
        if title is not None and title.episodes:
            return title
    for slug in SHOWCASE_ORGS:
        org = db.session.scalar(select(Organization).where(Organization.slug == slug))
        if org is None:
            continue
        title = db.session.scalar(
            select(Title).join(Episode, Episode.title_id == Title.id)
            .where(Title.organization_id == org.id, Title.original_language.like("zh%"))
            .order_by(Title.id).limit(1))
        if title is not None:
            return title
    return None


def load_demo(log) -> None:
    title = _showcase_title()
    if title is None:
        log("localization: no catalog demo title yet; demo subtitles skipped")
        return
    episodes = list(title.episodes)[:EPISODES]
    owner = title.organization.users[0] if title.organization.users else None
    added = 0
    for episode, script in zip(episodes, SCRIPT, strict=False):
        exists = db.session.scalar(select(SubtitleTrack.id).where(
            SubtitleTrack.episode_id == episode.id, SubtitleTrack.language == "zh-Hans"))
        if exists:
            continue
        for language, position, origin in (("zh-Hans", 0, "source"), ("en", 1, "human")):
            cues = _cues([pair[position] for pair in script])
            # Tidy as a subtitler would deliver it: English re-broken for 9:16 lines.
            cues, _fixes = domain.autofix(cues, services.profile_for(language,
                                                                     services.QCOptions()), 30)
            document = write_srt(cues).encode("utf-8")
            result = services.upload_track(episode, language=language, data=document,
                                           filename=f"E{episode.number:03d}.{language}.srt",
                                           origin=origin, by=owner)
            services.approve_track(result.track, by=owner,
                                   override_reason=None if result.report.passed
                                   else "demo data")
            added += 1
    db.session.flush()
    log(f"localization: demo subtitles for {title.original_title!r} "
        f"({added} tracks added, {len(episodes)} episodes)")
