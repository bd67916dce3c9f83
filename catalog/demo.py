"""Demo catalog: 42 micro-drama series from the three demo producers, in Chinese and
English, with episodes, AI provenance and copyright records; most are published.

Posters are drawn with ffmpeg (the Chinese title in Noto Sans CJK); two showcase titles
also get a vertical trailer carrying the on-screen AI label and the AIGC metadata, and
two episode masters. Idempotent: titles that exist are left alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import select

from catalog import domain, services
from catalog.models import Title
from marketplace.accounts.models import Organization, User
from marketplace.db import utcnow
from marketplace.extensions import db

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")

# (original title, English title, genres, Chinese synopsis, English synopsis)
SERIES = {
    "huangpu-pictures": [
        ("闪婚后霸总每天都在追我", "Flash Marriage to the CEO", ["ceo", "romance"],
         "为了救母亲，林夏与陌生男人闪婚，却不知对方竟是上海首富。契约到期前，霸总却每天都在追她。",
         "To pay for her mother's surgery, Lin Xia marries a stranger overnight — Shanghai's "
         "richest man. Before the contract ends, the CEO starts chasing her every day."),
        ("龙王赘婿归来", "Return of the Dragon King", ["revenge", "urban"],
         "隐忍三年的上门女婿，原来是龙殿之主。今日归来，欺他辱他者，统统付出代价。",
         "For three years he was the humiliated son-in-law. Now the Lord of the Dragon Hall "
         "returns, and everyone who mocked him will pay."),
        ("重生之千金归来", "Reborn Heiress", ["rebirth", "revenge", "family"],
         "被假千金害死的沈念重生回到十八岁，这一世她要夺回属于自己的一切。",
         "Murdered by the impostor who took her place, Shen Nian wakes up at eighteen again — "
         "and this time she takes back everything."),
        ("外滩十八号的秘密", "The Secret of No. 18 on the Bund", ["suspense", "historical"],
         "1937年的上海外滩，一名女译电员在银行大楼里发现了改变战局的密码本。",
         "Shanghai, 1937: a young cipher clerk finds a codebook in a Bund bank that could turn "
         "the war."),
        ("我的AI男友是总裁", "My AI Boyfriend Is the CEO", ["romance", "ceo", "comedy"],
         "程序员苏糖写出的恋爱AI突然有了实体——还成了她公司的新任总裁。",
         "Programmer Su Tang's dating chatbot suddenly has a body — and it is her company's new "
         "CEO."),
        ("豪门千金的逆袭", "The Heiress Strikes Back", ["revenge", "family"],
         "被赶出豪门的真千金，带着三个天才宝宝回来了。",
         "Thrown out of the family mansion, the true heiress returns with three genius "
         "children."),
        ("月下狼王的新娘", "Bride of the Moon Wolf King", ["paranormal", "romance"],
         "月圆之夜，她被献给狼族之王，却发现自己才是预言中的月神之女。",
         "On the night of the full moon she is offered to the Wolf King — and learns she is the "
         "Moon Goddess's daughter of the prophecy."),
        ("江南织造局", "The Silk Bureau of Jiangnan", ["historical", "suspense"],
         "明朝江南织造局里，一匹失踪的龙袍牵出一场惊天阴谋。",
         "In the Ming dynasty's imperial silk bureau, a missing dragon robe unravels a "
         "conspiracy."),
        ("萌宝助攻：爹地快追妈咪", "Daddy, Chase Mommy!", ["family", "romance", "comedy"],
         "五岁天才萌宝黑进总裁电脑，只为给妈咪找回亲爹。",
         "A five-year-old genius hacks a CEO's laptop to reunite his mother with his father."),
        ("陆家嘴的最后一单", "The Last Deal in Lujiazui", ["urban", "thriller"],
         "被陷害的基金经理只有七天时间，在陆家嘴完成最后一笔交易洗清罪名。",
         "A framed fund manager has seven days and one trade in Lujiazui to clear his name."),
        ("仙尊下山", "The Immortal Descends", ["fantasy", "martial_arts"],
         "修炼千年的仙尊下山历劫，却被一个女大学生捡回了家。",
         "An immortal master descends the mountain for his trial — and is taken home by a "
         "college student."),
        ("我在民国开茶馆", "My Teahouse in Old Shanghai", ["historical", "comedy"],
         "现代茶艺师穿越到民国上海，开起了一家消息灵通的茶馆。",
         "A modern tea master wakes up in 1920s Shanghai and opens the best-informed teahouse "
         "in town."),
        ("替嫁新娘", "The Substitute Bride", ["romance", "ceo", "revenge"],
         "她替姐姐嫁给传说中毁容的残疾总裁，新婚夜却发现他一切正常。",
         "She marries the supposedly disfigured CEO in her sister's place — and finds nothing "
         "wrong with him on the wedding night."),
        ("弄堂里的夏天", "Summer in the Longtang", ["youth", "family"],
         "九十年代上海弄堂，一群少年的最后一个暑假。",
         "A Shanghai lane in the 1990s, and a gang of teenagers' last summer together."),
    ],
    "lujiazui-ai-studio": [
        ("霸总的AI替身", "The CEO's AI Double", ["ceo", "romance", "suspense"],
         "霸道总裁意外昏迷，公司派出他的AI数字人替身上班，只有秘书发现了破绽。",
         "When the CEO falls into a coma his company sends his AI double to work — only his "
         "assistant notices."),
        ("星际萌宠", "Star Pets", ["comedy", "fantasy"],
         "外星萌宠坠落陆家嘴，女白领被迫成为它的地球监护人。",
         "An alien pet crash-lands in Lujiazui and an office worker becomes its Earth "
         "guardian."),
        ("末日列车", "Doomsday Express", ["thriller", "suspense"],
         "开往上海的最后一班高铁上，每隔十分钟就有一个人消失。",
         "On the last bullet train to Shanghai, someone vanishes every ten minutes."),
        ("九霄仙途", "Path to the Ninth Heaven", ["fantasy", "martial_arts"],
         "废柴少女觉醒上古血脉，一路逆袭登顶九霄。",
         "A hopeless cultivator awakens an ancient bloodline and fights her way to the ninth "
         "heaven."),
        ("狼人总裁的契约", "The Werewolf CEO's Contract", ["paranormal", "ceo", "romance"],
         "她签下的不是劳动合同，而是一份狼族的伴侣契约。",
         "What she signed was not an employment contract but a werewolf mating pact."),
        ("数字永生", "Digital Afterlife", ["thriller", "family"],
         "父亲去世后，女儿收到了他的数字人发来的求救信息。",
         "After her father's death, a daughter receives a call for help from his digital "
         "twin."),
        ("复仇女王", "Queen of Revenge", ["revenge", "urban"],
         "被闺蜜和未婚夫联手陷害入狱，五年后她以女首富身份归来。",
         "Framed by her best friend and her fiancé, she returns five years later as the "
         "richest woman in the city."),
        ("长安夜行录", "Night Patrol of Chang'an", ["historical", "fantasy", "suspense"],
         "盛唐长安，一名夜巡女捕快追查妖案，却牵出宫廷秘辛。",
         "In Tang-dynasty Chang'an, a night-watch constable chases demon cases into palace "
         "secrets."),
        ("总裁的天才小娇妻", "The CEO's Genius Wife", ["ceo", "romance", "comedy"],
         "被当作花瓶的总裁夫人，原来是顶级黑客。",
         "Everyone thinks the CEO's wife is a trophy — she is a world-class hacker."),
        ("赛博江湖", "Cyber Jianghu", ["martial_arts", "fantasy"],
         "2077年的上海，武林门派变成了科技公司，侠客用代码行侠仗义。",
         "Shanghai, 2077: martial sects are tech giants and knights-errant fight with code."),
        ("她从古代来", "She Came from the Past", ["rebirth", "romance", "comedy"],
         "宋朝贵女穿越到现代，成了顶流女明星的替身。",
         "A Song-dynasty noblewoman lands in the present as a superstar's body double."),
        ("午夜直播间", "Midnight Livestream", ["suspense", "thriller"],
         "每晚零点，一个神秘直播间都会预告一场真实发生的意外。",
         "Every midnight a mysterious livestream predicts an accident that then happens."),
        ("重返十八岁的妈妈", "Mom Is Eighteen Again", ["family", "rebirth", "comedy"],
         "四十岁的妈妈一觉醒来回到十八岁，和女儿成了同班同学。",
         "A forty-year-old mother wakes up eighteen — in her daughter's class."),
        ("血月狼族", "Blood Moon Pack", ["paranormal", "thriller"],
         "血月升起，两大狼族的继承人被迫联姻。",
         "Under the blood moon, the heirs of two rival packs are forced to marry."),
    ],
    "zhangjiang-shorts": [
        ("张江码农逆袭记", "The Coder's Comeback", ["urban", "comedy"],
         "被裁员的程序员用一个周末写出爆款App，前老板后悔莫及。",
         "Laid off on Friday, a programmer ships a hit app by Monday — and his old boss "
         "regrets everything."),
        ("神医毒妃", "The Poison Healer Consort", ["historical", "revenge", "romance"],
         "现代女军医穿越成被毒死的王妃，一手银针一手毒药，斗遍后宫。",
         "A modern army doctor wakes up as a poisoned consort and fights the palace with "
         "needles and poison."),
        ("千亿继承人", "The Hundred-Billion Heir", ["ceo", "revenge"],
         "外卖小哥接到一个电话：你是千亿家族唯一的继承人。",
         "A delivery rider gets a call: he is the sole heir to a hundred-billion fortune."),
        ("深海回声", "Echo from the Deep", ["suspense", "thriller"],
         "南海科考船上，一段来自海底的求救信号让所有人陷入恐慌。",
         "On a research ship in the South China Sea, a distress call from the seabed spreads "
         "panic."),
        ("穿书后我成了反派的妈", "I Became the Villain's Mom", ["fantasy", "comedy", "family"],
         "她穿进小说，成了未来大反派的亲妈，决定从小把他养成好人。",
         "Trapped in a novel as the future villain's mother, she decides to raise him right."),
        ("上海滩风云", "Shanghai Bund Storm", ["historical", "revenge"],
         "民国上海滩，码头工人之子一步步成为黑白两道敬畏的人物。",
         "Republican-era Shanghai: a dockworker's son rises to rule both sides of the law."),
        ("恋爱模拟器", "Love Simulator", ["romance", "youth", "comedy"],
         "校园恋爱游戏突然成真，攻略对象全是校草。",
         "A campus dating game comes true — and every target is the school heartthrob."),
        ("豪门假千金", "The Fake Heiress", ["family", "revenge"],
         "真相大白那天，假千金没有哭，而是拿出了一份亲子鉴定。",
         "The day the truth comes out, the fake heiress doesn't cry — she produces a DNA "
         "test."),
        ("剑来", "The Sword Arrives", ["martial_arts", "fantasy"],
         "小镇少年拾得一柄古剑，从此卷入仙门之争。",
         "A small-town boy picks up an ancient sword and is drawn into a war of immortal "
         "sects."),
        ("午夜出租车", "Midnight Taxi", ["suspense", "urban"],
         "每个午夜上车的乘客，都藏着一个关于这座城市的秘密。",
         "Every passenger after midnight carries a secret about the city."),
        ("我的狼人室友", "My Werewolf Roommate", ["paranormal", "comedy", "romance"],
         "合租室友每到月圆就请假，原来他是狼人。",
         "Her flatmate takes every full moon off — because he is a werewolf."),
        ("战神归来", "Return of the War God", ["revenge", "martial_arts"],
         "北境战神解甲归田，却发现妻女被人欺辱。",
         "The war god of the north comes home to find his wife and daughter humiliated."),
        ("时光咖啡馆", "The Time Café", ["romance", "fantasy"],
         "在这家咖啡馆点一杯拿铁，就能回到过去的某一天。",
         "Order a latte at this café and you go back to one day in your past."),
        ("闺蜜的复仇计划", "My Best Friend's Revenge Plan", ["revenge", "urban", "suspense"],
         "两个被同一个渣男骗过的女人，联手设下完美的复仇局。",
         "Two women conned by the same man set a perfect trap together."),
    ],
}

MODELS = [
    {"name": "Kling", "vendor": "Kuaishou", "version": "2.1", "commercial_use": True,
     "purpose": "video"},
    {"name": "Hailuo", "vendor": "MiniMax", "version": "02", "commercial_use": True,
     "purpose": "video"},
    {"name": "Seedance", "vendor": "ByteDance", "version": "1.0 Pro", "commercial_use": True,
     "purpose": "video"},
    {"name": "Wan", "vendor": "Alibaba", "version": "2.2", "commercial_use": True,
     "purpose": "video"},
    {"name": "CosyVoice", "vendor": "Alibaba", "version": "2", "commercial_use": True,
     "purpose": "voice"},
    {"name": "Suno", "vendor": "Suno", "version": "4.5", "commercial_use": False,
     "purpose": "music"},
    {"name": "DeepSeek", "vendor": "DeepSeek", "version": "V3", "commercial_use": True,
     "purpose": "script draft"},
    {"name": "Qwen", "vendor": "Alibaba", "version": "3", "commercial_use": True,
     "purpose": "translation"},
]
INVOLVEMENTS = ["mostly_generated", "fully_generated", "assisted", "mostly_generated",
                "none", "fully_generated", "assisted"]
SUBTITLE_LANGS = ["en", "es", "pt-BR", "id", "th", "ar", "vi", "ja", "ko"]
SHOWCASE = {"闪婚后霸总每天都在追我", "霸总的AI替身"}
COLORS = ["0xc8102e", "0x3a0ca3", "0x1b4332", "0x7b2cbf", "0x9d0208", "0x023e8a", "0x6a040f",
          "0x283618"]


def _provenance(i: int, org_slug: str) -> dict:
    involvement = INVOLVEMENTS[i % len(INVOLVEMENTS)]
    if involvement == "none":
        return {"involvement": "none", "digital_source_type": "digitalCapture",
                "contributors": [{"name": "王导", "role": "director"}]}
    components = {
        "assisted": ["script", "translation"],
        "mostly_generated": ["storyboard", "visuals", "voice", "music"],
        "fully_generated": ["script", "storyboard", "visuals", "likeness", "voice", "music",
                            "dubbing"],
    }[involvement]
    models = [MODELS[i % 4], MODELS[4], MODELS[5 + i % 3]] if involvement != "assisted" else [
        MODELS[6], MODELS[7]]
    labelled = i % 5 != 3  # a few titles still miss their label: the compliance check shows it
    return {
        "involvement": involvement,
        "components": {c: True for c in components},
        "digital_source_type": {"assisted": "compositeWithTrainedAlgorithmicMedia",
                                "mostly_generated": "compositeWithTrainedAlgorithmicMedia",
                                "fully_generated": "trainedAlgorithmicMedia"}[involvement],
        "models": models,
        "contributors": [{"name": "李娜", "role": "director"},
                         {"name": "Chen Hao", "role": "screenwriter"},
                         {"name": "周婷", "role": "AI supervisor"}],
        "consents": ([{"subject": "赵宇", "kind": "likeness", "reference": f"REL-{i:03d}"},
                      {"subject": "赵宇", "kind": "voice", "reference": f"VOX-{i:03d}"}]
                     if "likeness" in components or "voice" in components else []),
        "explicit_label": ({"text": "本剧含AI生成内容", "position": "top-right",
                            "start_seconds": 0, "duration_seconds": 3,
                            "text_height_percent": 6} if labelled else {}),
        "implicit_label": ({"Label": "1", "ContentProducer": org_slug,
                            "ProduceID": f"{org_slug[:3].upper()}-2025-{i:04d}"}
                           if labelled else {}),
    }


def _ffmpeg(*args: str) -> bool:
    try:
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args],
                       check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _text_filter(textfile: Path, size: int, y: str, color: str = "white") -> str:
    font = f"fontfile={FONT}:" if FONT.exists() else ""
    return (f"drawtext={font}textfile={textfile}:fontcolor={color}:fontsize={size}:"
            f"x=(w-text_w)/2:y={y}:box=1:boxcolor=black@0.35:boxborderw=12")


def _poster(work: Path, zh: str, en: str, color: str) -> Path | None:
    (work / "zh.txt").write_text(zh if len(zh) <= 8 else zh[:8] + "\n" + zh[8:], "utf-8")
    (work / "en.txt").write_text(en, "utf-8")
    out = work / "poster.png"
    vf = ",".join([_text_filter(work / "zh.txt", 30, "h*0.30"),
                   _text_filter(work / "en.txt", 13, "h*0.72")])
    ok = _ffmpeg("-f", "lavfi", "-i", f"gradients=s=270x480:c0={color}:c1=0x111111:seed=7",
                 "-vf", vf, "-frames:v", "1", str(out))
    return out if ok else None


def _trailer(work: Path, zh: str, org_slug: str, n: int, seconds: int = 6) -> Path | None:
    (work / "zh.txt").write_text(zh, "utf-8")
    (work / "label.txt").write_text("本剧含AI生成内容", "utf-8")
    out = work / f"clip{n}.mp4"
    vf = ",".join([_text_filter(work / "zh.txt", 22, "h*0.45"),
                   # The explicit label as declared: top right, first 3 s, 6% of 360 px.
                   _text_filter(work / "label.txt", 22, "24", "yellow").replace(
                       "x=(w-text_w)/2", "x=w-text_w-16") + ":enable='lt(t,3)'"])
    aigc = json.dumps({"Label": "1", "ContentProducer": org_slug,
                       "ProduceID": f"{org_slug[:3].upper()}-T{n}"})
    ok = _ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=360x640:d={seconds}:r=24",
                 "-f", "lavfi", "-i", f"sine=frequency={330 + 40 * n}:duration={seconds}",
                 "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-crf", "30",
                 "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest",
                 "-metadata", f"AIGC={aigc}", "-movflags", "+faststart", str(out))
    return out if ok else None


def _store(title: Title, path: Path | None, kind: str, name: str, **kw) -> None:
    if path is None:
        return
    with path.open("rb") as fh:
        services.store_asset(title, kind=kind, stream=fh, filename=name,
                             content_type=kw.pop("content_type", None), **kw)


def load_demo(log) -> None:
    admin = db.session.scalar(select(User).where(User.is_admin.is_(True)).order_by(User.id))
    have_ffmpeg = shutil.which("ffmpeg") is not None
    created = 0
    index = 0
    with tempfile.TemporaryDirectory(prefix="pdx-demo-") as tmp:
        work = Path(tmp)
        for slug, series in SERIES.items():
            org = db.session.scalar(select(Organization).where(Organization.slug == slug))
            if org is None:
                continue
            owner = org.users[0] if org.users else None
            existing = set(db.session.scalars(select(Title.original_title).where(
                Title.organization_id == org.id)))
            for zh, en, genres, syn_zh, syn_en in series:
                index += 1
                if zh in existing:
                    continue
                _create(org, owner, admin, index, zh, en, genres, syn_zh, syn_en, work,
                        have_ffmpeg)
                created += 1
    db.session.flush()
    log(f"catalog: {created} demo titles added ({index} in the demo set)"
        + ("" if have_ffmpeg else "; ffmpeg not found, so no posters or trailers"))


def _create(org, owner, admin, i, zh, en, genres, syn_zh, syn_en, work, have_ffmpeg) -> None:
    episodes = [60, 80, 100, 72, 90, 120, 66][i % 7]
    title = services.create_title(org, domain.TitleInput(
        original_title=zh, original_language="zh", country="CN", year=2024 + i % 3,
        episode_count=episodes, typical_episode_seconds=[75, 90, 110, 120, 150][i % 5],
        genres=genres, tags=[], localizations={"zh": (zh, syn_zh), "en": (en, syn_en)}),
        by=owner)
    services.set_provenance(title, _provenance(i, org.slug), by=owner)
    tier = ["key", "ordinary", "other", "ordinary"][i % 4]
    holder = org.name.split(" ")[0]
    services.set_copyright(
        title, rights_holder=holder,
        registration_number=f"国作登字-2025-I-{10_000_000 + i * 7919}",
        nrta_number=None if i % 9 == 4 else f"(沪)网微剧备字(2025)第{100 + i:03d}号",
        nrta_tier=tier, underlying_work=(f"网络小说《{zh}》" if i % 3 == 0 else None),
        music_clearances=[{"track": "主题曲", "rights_holder": "上海音乐出版社",
                           "reference": f"MC-{i:04d}"}], by=owner)
    services.add_episode_range(title, episodes, [75, 90, 110, 120, 150][i % 5])
    title.episodes[0].title = "第一集"
    title.episodes[-1].title = "大结局"
    if have_ffmpeg:
        _store(title, _poster(work, zh, en, COLORS[i % len(COLORS)]), "poster", "poster.png",
               content_type="image/png")
        lang = SUBTITLE_LANGS[i % len(SUBTITLE_LANGS)]
        srt = work / "ep1.srt"
        srt.write_text(f"1\n00:00:00,000 --> 00:00:02,000\n{en}\n", "utf-8")
        _store(title, srt, "subtitle", f"ep1.{lang}.srt", language=lang,
               episode=title.episodes[0], content_type="application/x-subrip")
        if zh in SHOWCASE:
            _store(title, _trailer(work, zh, org.slug, i, 8), "trailer", "trailer.mp4",
                   content_type="video/mp4")
            for n in (1, 2):
                _store(title, _trailer(work, f"{zh} 第{n}集", org.slug, i + n, 4), "master",
                       f"ep{n:03d}.mp4", episode=title.episodes[n - 1], content_type="video/mp4")
    # Most titles are published; a few wait in each state so every screen has something.
    state = "published"
    if i % 14 == 5:
        state = "submitted"
    elif i % 14 == 9:
        state = "draft"
    elif i == 27:
        state = "withdrawn"
    if state == "draft" or admin is None:
        return
    if have_ffmpeg:
        services.submit(title, by=owner or admin)
    else:  # no poster could be drawn: skip the completeness check, keep the history honest
        title.status, title.submitted_at = "submitted", utcnow()
    if state in ("published", "withdrawn"):
        services.publish(title, by=admin, comment="Demo: approved")
    if state == "withdrawn":
        services.withdraw(title, by=owner or admin, comment="Re-editing the dub")
