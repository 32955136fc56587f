"""Tiny demo translator in the real envit5-translation layout (random weights: its English is NONSENSE).

``build_demo(root)`` writes ``root/envit5-translation/`` with what the published model has: ``config.json`` (T5),
the weights, ``generation_config.json``, ``spiece.model`` (a SentencePiece unigram model, trained here at build time
on a small built-in Vietnamese + English corpus), ``tokenizer_config.json`` and ``special_tokens_map.json``, so
``AutoTokenizer``/``AutoModelForSeq2SeqLM`` load it through exactly the code path of the real model.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..models.layout import TRANSLATION_DIR

SEED = 1234
# Prompts the users write, and their English, so the tokenizer has the letters, tone marks and syllables of both.
CORPUS = [
    "vi: Cô gái nhảy trên núi", "en: A girl dancing on a mountain",
    "vi: Gấu trúc trên mặt nước", "en: A panda on the water",
    "vi: Iron man trên bãi biển", "en: Iron man on the beach",
    "vi: Người đàn ông mặc áo đỏ đang nhảy múa", "en: A man in a red shirt is dancing",
    "vi: Một chú robot nhảy hip hop ở Sài Gòn", "en: A robot dancing hip hop in Saigon",
    "vi: Chàng trai mặc vest đen đứng dưới mưa", "en: A young man in a black suit standing in the rain",
    "vi: Cô bé tóc dài chạy trong công viên", "en: A little girl with long hair running in the park",
    "vi: Siêu nhân bay trên bầu trời đêm", "en: A superhero flying in the night sky",
    "vi: Con mèo đang ngủ cạnh cửa sổ", "en: A cat sleeping next to the window",
    "vi: Nữ chiến binh cầm kiếm trong rừng", "en: A female warrior holding a sword in the forest",
    "vi: Phi hành gia cưỡi ngựa trên mặt trăng", "en: An astronaut riding a horse on the moon",
    "vi: Ông già Noel múa trên tuyết, phong cách hoạt hình 3D", "en: Santa Claus dancing in the snow, 3D cartoon style",
    "vi: Hai cô gái 20 tuổi mặc áo dài trắng", "en: Two 20-year-old girls wearing white ao dai",
    "vi: Chú khỉ vui vẻ nhảy múa, chất lượng cao, 4k", "en: A happy monkey dancing, high quality, 4k",
    "vi: Đứa trẻ đá bóng trên sân cỏ xanh", "en: A child playing football on a green field",
    "vi: Công chúa trong lâu đài, ánh sáng lung linh", "en: A princess in a castle, sparkling light",
    "co gai nhay tren nui", "gau truc tren mat nuoc", "nguoi dan ong chay tren duong pho",
    "ảnh chân dung, chi tiết, sắc nét, màu sắc rực rỡ", "portrait photo, detailed, sharp, vivid colors",
    "blurry, low quality, deformed, extra limbs, watermark", "mờ, chất lượng thấp, biến dạng, thừa tay chân",
    "0 1 2 3 4 5 6 7 8 9 . , ! ? : ; - ( ) ' \" & %",
    "ă â đ ê ô ơ ư à á ả ã ạ ằ ắ ẳ ẵ ặ ầ ấ ẩ ẫ ậ è é ẻ ẽ ẹ ề ế ể ễ ệ ì í ỉ ĩ ị ò ó ỏ õ ọ ồ ố ổ ỗ ộ ờ ớ ở ỡ ợ "
    "ù ú ủ ũ ụ ừ ứ ử ữ ự ỳ ý ỷ ỹ ỵ",
    "Ă Â Đ Ê Ô Ơ Ư À Á Ả Ã Ạ È É Ẻ Ẽ Ẹ Ì Í Ò Ó Ỏ Õ Ọ Ù Ú Ủ Ũ Ụ Ỳ Ý",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
]
VOCAB_SIZE = 400  # a soft limit: the trainer stops where the small corpus runs out of pieces
# Tiny T5 (the real one is T5-base sized: d_model 768, 12 + 12 layers).
MODEL_CONFIG = dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
                    relative_attention_num_buckets=8, relative_attention_max_distance=32, dropout_rate=0.0,
                    feed_forward_proj="relu", tie_word_embeddings=True)


def train_sentencepiece(corpus: list[str] = CORPUS, vocab_size: int = VOCAB_SIZE) -> bytes:
    """A SentencePiece unigram model with T5's special ids (pad 0, eos 1, unk 2, no bos), as bytes."""
    import sentencepiece as spm

    out = io.BytesIO()
    # One thread: the trained pieces are then the same on every build.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus * 4), model_writer=out, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False,
        num_threads=1, minloglevel=2)
    return out.getvalue()


def build_demo(root: str | Path) -> Path:
    """Write the tiny translator to ``root/envit5-translation`` (replaced whole, via a temporary folder)."""
    import torch
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = root / TRANSLATION_DIR
    tmp = Path(tempfile.mkdtemp(prefix=".envit5-", dir=root))
    try:
        (tmp / "spiece.model").write_bytes(train_sentencepiece())
        specials = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
        (tmp / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))
        (tmp / "tokenizer_config.json").write_text(json.dumps(
            {**specials, "extra_ids": 0, "model_max_length": 512, "tokenizer_class": "T5Tokenizer"}, indent=2))
        vocab_size = len(AutoTokenizer.from_pretrained(tmp))
        config = T5Config(vocab_size=vocab_size, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                          **MODEL_CONFIG)
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(SEED)
        try:
            model = T5ForConditionalGeneration(config)
        finally:
            torch.random.set_rng_state(generator_state)  # do not disturb the caller's random stream
        model.save_pretrained(tmp)
        (tmp / "DEMO.txt").write_text("Random tiny T5: its translations are nonsense. "
                                      "Run `python manage.py download --only prompt` for VietAI/envit5-translation.\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
