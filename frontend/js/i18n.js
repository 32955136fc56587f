// Every string the interface shows, in Vietnamese and English (the one place to translate).
// Keys are used by t() in the modules and by data-i18n* attributes in index.html.

const STRINGS = {
  vi: {
    "app.title": "Text2Video",
    "app.tagline": "Video tham chiếu + câu mô tả → nhân vật mới làm cùng động tác",
    "nav.create": "Tạo video",
    "nav.history": "Lịch sử",
    "nav.settings": "Cài đặt",
    "nav.language": "Ngôn ngữ giao diện",
    "skip": "Bỏ qua, tới nội dung chính",

    "settings.title": "Kết nối máy chủ",
    "settings.backend": "Địa chỉ máy chủ (backend)",
    "settings.backend_help": "Để trống nếu giao diện do chính máy chủ phục vụ. Ví dụ: https://abcd.ngrok-free.app",
    "settings.key": "Khóa API",
    "settings.key_help": "Chỉ cần khi máy chủ yêu cầu (được in ra khi chạy manage.py serve --tunnel).",
    "settings.save": "Lưu",
    "settings.saved": "Đã lưu. Đang kết nối lại…",
    "settings.bad_url": "Địa chỉ phải bắt đầu bằng http:// hoặc https://, không phải {value}.",

    "health.checking": "Đang kiểm tra máy chủ…",
    "health.ok": "Máy chủ sẵn sàng",
    "health.workers": "{n} worker đang chạy",
    "health.no_worker": "Chưa có worker nào chạy: công việc sẽ chờ trong hàng đợi.",
    "health.demo": "Chế độ demo (trọng số ngẫu nhiên): kết quả chỉ là nhiễu.",
    "health.down": "Không kết nối được máy chủ {url}: {reason}. Kiểm tra địa chỉ trong Cài đặt.",
    "health.need_key": "Máy chủ yêu cầu khóa API. Nhập khóa trong Cài đặt.",
    "health.bad_key": "Khóa API không hợp lệ. Kiểm tra lại trong Cài đặt.",

    "create.title": "Tạo video mới",
    "create.video": "Video tham chiếu",
    "create.drop": "Kéo và thả video vào đây, hoặc bấm để chọn tệp",
    "create.drop_active": "Thả tệp để chọn",
    "create.accepts": "Nhận: {exts}; tối đa {mb} MB",
    "create.or_url": "hoặc dán địa chỉ video (URL)",
    "create.video_url": "Địa chỉ video",
    "create.clear": "Bỏ chọn video",
    "create.file_info": "{name} · {size} · {duration} · {w}×{h}",
    "create.file_info_nodim": "{name} · {size}",
    "create.no_preview": "Trình duyệt không xem trước được tệp này; máy chủ sẽ tự kiểm tra.",
    "create.lang": "Ngôn ngữ câu mô tả",
    "create.lang.auto": "Tự nhận diện",
    "create.lang.vi": "Tiếng Việt",
    "create.lang.en": "English",
    "create.prompt": "Câu mô tả",
    "create.prompt_placeholder": "Cô gái nhảy trên núi",
    "create.prompt_help": "Mô tả nhân vật và khung cảnh, bằng tiếng Việt hoặc tiếng Anh.",
    "create.advanced": "Tùy chọn nâng cao",
    "create.steps": "Số bước khử nhiễu",
    "create.guidance": "Mức bám câu mô tả (guidance)",
    "create.seed": "Seed (để trống = ngẫu nhiên)",
    "create.frames": "Số khung hình (để trống = mặc định)",
    "create.stride": "Lấy mỗi k khung hình của video",
    "create.width": "Chiều rộng (px)",
    "create.height": "Chiều cao (px)",
    "create.negative": "Câu mô tả loại trừ",
    "create.negative_placeholder": "mờ, chất lượng thấp",
    "create.loras": "Phong cách (LoRA)",
    "create.loras_help": "Tối đa 3 LoRA có trên máy chủ; trọng số từ {min} đến {max} (1 = như khi huấn luyện, 0,5–0,8 = nhẹ hơn).",
    "create.lora_none": "— không dùng —",
    "create.lora_n": "LoRA thứ {n}",
    "create.lora_weight": "Trọng số của LoRA thứ {n}",
    "create.scheduler": "Bộ lấy mẫu",
    "create.input_type": "Loại video tham chiếu",
    "create.input_type.auto": "Tự nhận diện",
    "create.input_type.video": "Người thật (trích xuất dáng)",
    "create.input_type.skeleton": "Video khung xương có sẵn",
    "create.range": "{min}–{max}, mặc định {def}",
    "create.model": "Mô hình",
    "create.model_default": "(mặc định)",
    "create.model_vram": "Cần khoảng {gb} GB bộ nhớ GPU.",
    "create.photo": "Ảnh nhân vật (không bắt buộc)",
    "create.photo_drop": "Kéo và thả ảnh vào đây, hoặc bấm để chọn ảnh",
    "create.photo_help": "Mô hình giữ diện mạo của người trong ảnh: ảnh rõ mặt, thấy toàn thân, nền đơn giản là tốt nhất.",
    "create.photo_clear": "Bỏ ảnh",
    "create.photo_alt": "Ảnh nhân vật đã chọn",
    "create.photo_info": "{name} · {size} · {w}×{h}",
    "create.frames_rule": "{min}–{max}, theo quy tắc {rule}: {examples}; mặc định {def}",
    "create.conditioning": "Mức bám theo dáng (conditioning)",
    "create.submit": "Tạo video",
    "create.submitting": "Đang gửi…",
    "create.uploading": "Đang tải lên {pct}%",
    "create.fix_errors": "Hãy sửa các ô được đánh dấu rồi thử lại.",
    "create.options_unavailable": "Không đọc được giới hạn từ máy chủ; dùng giá trị mặc định của trình duyệt.",

    "err.prompt_required": "Hãy nhập câu mô tả: mô tả nhân vật và khung cảnh, ví dụ \"Cô gái nhảy trên núi\".",
    "err.video_required": "Chưa có video tham chiếu: hãy chọn một tệp hoặc dán địa chỉ video.",
    "err.both_video": "Đã chọn cả tệp video và địa chỉ video. Hãy chỉ dùng một.",
    "err.extension": "'{name}' không phải loại tệp video được chấp nhận (.{ext}). Hãy tải lên một trong: {exts}.",
    "err.too_large": "Tệp ({size}) lớn hơn giới hạn {mb} MB. Hãy dùng video ngắn hơn hoặc nhỏ hơn.",
    "err.too_long": "Video dài {duration}, vượt giới hạn {max}. Hãy cắt ngắn video.",
    "err.number": "{field} phải là số từ {min} đến {max}, không phải {value}.",
    "err.multiple": "{field} phải là bội số của {m}, không phải {value}.",
    "err.lora_twice": "Mỗi LoRA chỉ chọn một lần; trọng số quyết định độ mạnh.",
    "err.photo_type": "'{name}' không phải ảnh PNG, JPEG hoặc WebP (.{ext}). Hãy chọn một trong: {exts}.",
    "err.photo_too_large": "Ảnh ({size}) lớn hơn giới hạn {mb} MB. Hãy dùng ảnh nhỏ hơn.",
    "err.frames_rule": "{field} phải theo quy tắc {rule} ({examples}), không phải {value}: giá trị gần nhất được phép là {closest}.",
    "err.url": "Địa chỉ video phải bắt đầu bằng http:// hoặc https://.",
    "err.network": "Không kết nối được máy chủ: {reason}. Kiểm tra địa chỉ trong Cài đặt và mạng.",
    "err.server": "Máy chủ báo lỗi {status}: {detail}",

    "job.title": "Công việc",
    "job.status.queued": "Đang chờ",
    "job.status.running": "Đang chạy",
    "job.status.succeeded": "Hoàn tất",
    "job.status.failed": "Thất bại",
    "job.status.canceled": "Đã hủy",
    "job.stage.translating": "Đang dịch câu mô tả",
    "job.stage.extracting_pose": "Đang trích xuất dáng người",
    "job.stage.generating": "Đang tạo video",
    "job.stage.encoding": "Đang mã hóa video",
    "job.stage_done.translating": "Đã dịch câu mô tả",
    "job.stage_done.extracting_pose": "Đã trích xuất dáng người",
    "job.stage_done.generating": "Đã tạo video",
    "job.stage_done.encoding": "Đã mã hóa video",
    "job.confirm_cancel": "Hủy công việc đang chạy? Công việc đã làm ({progress}) sẽ mất.",
    "lang.name.vi": "Tiếng Việt",
    "lang.name.en": "Tiếng Anh",
    "job.stages": "Các giai đoạn",
    "job.waiting": "Đang chờ worker nhận việc…",
    "job.step": "Bước {i}/{n}",
    "job.stopped_at": "Dừng ở: {stage}",
    "job.eta": "còn khoảng {eta}",
    "job.progress": "Tiến độ",
    "job.prompt": "Câu mô tả",
    "job.english_prompt": "Câu mô hình nhận (tiếng Anh)",
    "job.language": "Ngôn ngữ phát hiện",
    "job.pose": "Báo cáo dáng người",
    "job.pose_chart": "Dáng người theo bộ phận, {frames} khung hình lấy mẫu (trỏ hoặc chạm vào một đoạn để xem các khung)",
    "job.pose_chart.detected": "phát hiện được",
    "job.pose_chart.repaired": "được sửa",
    "job.pose_chart.missing": "bị thiếu (không vẽ)",
    "job.pose_chart.run": "{part}: {status}, khung {frames}",
    "job.input_kind": "Video tham chiếu",
    "job.input_kind.video": "video người thật",
    "job.input_kind.skeleton": "video khung xương",
    "job.skeleton": "Khung xương",
    "job.result": "Kết quả",
    "job.preview": "Xem trước trực tiếp (màu gần đúng, rõ dần qua từng bước)",
    "job.side_by_side": "So sánh song song",
    "job.downloads": "Tải về",
    "job.dl.result.mp4": "Video MP4",
    "job.dl.result.gif": "Ảnh động GIF",
    "job.dl.skeleton.mp4": "Khung xương (MP4)",
    "job.dl.side_by_side.mp4": "Song song (MP4)",
    "job.dl.keypoints.json": "Điểm khớp (JSON)",
    "job.cancel": "Hủy công việc",
    "job.cancel_requested": "Đã yêu cầu hủy; công việc dừng ở bước tiếp theo…",
    "job.canceled": "Công việc đã bị hủy.",
    "job.failed": "Không tạo được video.",
    "job.what_to_do": "Cách khắc phục",
    "job.details": "Chi tiết",
    "job.params": "Thông số",
    "job.model": "Mô hình",
    "job.photo": "Ảnh nhân vật",
    "job.photo_alt": "Ảnh nhân vật dùng cho công việc này",
    "job.created": "Tạo lúc",
    "job.finished": "Xong lúc",
    "job.demo": "Tạo bằng trọng số demo (ngẫu nhiên): hình chỉ là nhiễu.",
    "job.warnings": "Lưu ý",
    "job.not_found": "Không tìm thấy công việc {id}. Có thể nó đã bị xóa.",
    "job.new": "Tạo video khác",
    "job.delete": "Xóa",
    "job.open": "Mở",
    "job.download": "Tải về",
    "job.seed": "seed",
    "job.device": "thiết bị",

    "fix.no_person": "Dùng video có một người nhìn rõ toàn thân, đủ sáng; hoặc chọn \"Video khung xương có sẵn\".",
    "fix.invalid_input": "Sửa giá trị được nêu rồi tạo lại.",
    "fix.unsupported_media": "Dùng tệp MP4 (H.264) hoặc MOV/WEBM hợp lệ.",
    "fix.out_of_memory": "Giảm kích thước, số khung hình hoặc số bước, rồi thử lại.",
    "fix.worker_lost": "Worker bị dừng giữa chừng (có thể thiếu bộ nhớ). Thử lại với thông số nhỏ hơn.",
    "fix.models_missing": "Người vận hành cần tải mô hình: python manage.py download.",
    "fix.device_error": "Người vận hành cần kiểm tra GPU/thiết bị của worker.",
    "fix.unavailable": "Máy chủ đang bận hoặc hết dung lượng; thử lại sau ít phút.",
    "fix.default": "Thử lại; nếu lỗi lặp lại, hãy báo cho người vận hành kèm mã lỗi.",

    "history.title": "Lịch sử",
    "history.empty": "Chưa có công việc nào.",
    "history.filter": "Lọc theo trạng thái",
    "history.all": "Tất cả",
    "history.page": "Trang {page}/{pages} · {total} công việc",
    "history.prev": "← Trang trước",
    "history.next": "Trang sau →",
    "history.refresh": "Làm mới",
    "history.confirm_delete": "Xóa công việc \"{prompt}\" và mọi tệp của nó? Không thể hoàn tác.",
    "history.deleted": "Đã xóa công việc.",
    "history.no_thumb": "Chưa có ảnh",
    "history.no_result": "Không có kết quả",
    "history.thumb_alt": "Ảnh xem trước: {prompt}",

    "time.s": "{n} giây",
    "time.m": "{m} phút {s} giây",
    "time.h": "{h} giờ {m} phút",
    "loading": "Đang tải…",
    "close": "Đóng"
  },
  en: {
    "app.title": "Text2Video",
    "app.tagline": "Reference video + a prompt → a new character doing the same motion",
    "nav.create": "Create",
    "nav.history": "History",
    "nav.settings": "Settings",
    "nav.language": "Interface language",
    "skip": "Skip to main content",

    "settings.title": "Server connection",
    "settings.backend": "Backend URL",
    "settings.backend_help": "Leave empty when this page is served by the backend itself. E.g. https://abcd.ngrok-free.app",
    "settings.key": "API key",
    "settings.key_help": "Only when the server asks for one (printed by manage.py serve --tunnel).",
    "settings.save": "Save",
    "settings.saved": "Saved. Reconnecting…",
    "settings.bad_url": "The URL must start with http:// or https://, not {value}.",

    "health.checking": "Checking the server…",
    "health.ok": "Server ready",
    "health.workers": "{n} worker(s) running",
    "health.no_worker": "No worker is running: jobs will wait in the queue.",
    "health.demo": "Demo mode (random weights): results are noise.",
    "health.down": "Cannot reach the server {url}: {reason}. Check the URL in Settings.",
    "health.need_key": "This server needs an API key. Enter it in Settings.",
    "health.bad_key": "The API key is not valid. Check it in Settings.",

    "create.title": "New video",
    "create.video": "Reference video",
    "create.drop": "Drag and drop a video here, or click to choose a file",
    "create.drop_active": "Drop the file to choose it",
    "create.accepts": "Accepts: {exts}; at most {mb} MB",
    "create.or_url": "or paste a video URL",
    "create.video_url": "Video URL",
    "create.clear": "Clear video",
    "create.file_info": "{name} · {size} · {duration} · {w}×{h}",
    "create.file_info_nodim": "{name} · {size}",
    "create.no_preview": "This browser cannot preview this file; the server will check it.",
    "create.lang": "Prompt language",
    "create.lang.auto": "Detect automatically",
    "create.lang.vi": "Tiếng Việt",
    "create.lang.en": "English",
    "create.prompt": "Prompt",
    "create.prompt_placeholder": "Cô gái nhảy trên núi",
    "create.prompt_help": "Describe the character and the scene, in Vietnamese or English.",
    "create.advanced": "Advanced options",
    "create.steps": "Denoising steps",
    "create.guidance": "Guidance scale",
    "create.seed": "Seed (empty = random)",
    "create.frames": "Frames (empty = default)",
    "create.stride": "Use every k-th frame of the video",
    "create.width": "Width (px)",
    "create.height": "Height (px)",
    "create.negative": "Negative prompt",
    "create.negative_placeholder": "blurry, low quality",
    "create.loras": "Style (LoRA)",
    "create.loras_help": "Up to 3 LoRAs installed on the server; weight {min} to {max} (1 = as trained, 0.5–0.8 = lighter).",
    "create.lora_none": "— none —",
    "create.lora_n": "LoRA {n}",
    "create.lora_weight": "Weight of LoRA {n}",
    "create.scheduler": "Sampler",
    "create.input_type": "Reference video kind",
    "create.input_type.auto": "Detect automatically",
    "create.input_type.video": "A person filmed (extract the pose)",
    "create.input_type.skeleton": "A ready-made skeleton video",
    "create.range": "{min}–{max}, default {def}",
    "create.model": "Model",
    "create.model_default": "(default)",
    "create.model_vram": "Needs about {gb} GB of GPU memory.",
    "create.photo": "Character photo (optional)",
    "create.photo_drop": "Drag and drop a photo here, or click to choose one",
    "create.photo_help": "The model keeps the look of the person in the photo: a clear, full-body photo on a plain background works best.",
    "create.photo_clear": "Remove photo",
    "create.photo_alt": "The chosen character photo",
    "create.photo_info": "{name} · {size} · {w}×{h}",
    "create.frames_rule": "{min}–{max}, following {rule}: {examples}; default {def}",
    "create.conditioning": "Pose strength (conditioning scale)",
    "create.submit": "Generate",
    "create.submitting": "Sending…",
    "create.uploading": "Uploading {pct}%",
    "create.fix_errors": "Fix the marked fields and try again.",
    "create.options_unavailable": "Could not read the limits from the server; using the browser's defaults.",

    "err.prompt_required": "prompt is required: describe the character and the scene, e.g. \"a girl dancing on a mountain\".",
    "err.video_required": "No reference video: choose a file or paste a video URL.",
    "err.both_video": "Both a video file and a video URL were given. Use one of them.",
    "err.extension": "'{name}' is not an accepted video file type (.{ext}). Use a video file: {exts}.",
    "err.too_large": "The file ({size}) is larger than the {mb} MB limit. Upload a shorter or smaller video.",
    "err.too_long": "The video lasts {duration}, over the {max} limit. Trim it.",
    "err.number": "{field} must be between {min} and {max}, not {value}.",
    "err.multiple": "{field} must be a multiple of {m}, not {value}.",
    "err.lora_twice": "Choose each LoRA once; its weight sets the strength.",
    "err.photo_type": "'{name}' is not a PNG, JPEG or WebP photo (.{ext}). Choose one of: {exts}.",
    "err.photo_too_large": "The photo ({size}) is larger than the {mb} MB limit. Use a smaller photo.",
    "err.frames_rule": "{field} must follow {rule} ({examples}), not {value}: the closest allowed is {closest}.",
    "err.url": "The video URL must start with http:// or https://.",
    "err.network": "Cannot reach the server: {reason}. Check the URL in Settings and your network.",
    "err.server": "The server answered {status}: {detail}",

    "job.title": "Job",
    "job.status.queued": "Queued",
    "job.status.running": "Running",
    "job.status.succeeded": "Done",
    "job.status.failed": "Failed",
    "job.status.canceled": "Canceled",
    "job.stage.translating": "Translating prompt",
    "job.stage.extracting_pose": "Extracting the pose",
    "job.stage.generating": "Generating the video",
    "job.stage.encoding": "Encoding the video",
    "job.stage_done.translating": "Prompt translated",
    "job.stage_done.extracting_pose": "Pose extracted",
    "job.stage_done.generating": "Video generated",
    "job.stage_done.encoding": "Video encoded",
    "job.confirm_cancel": "Cancel this running job? The work done so far ({progress}) is lost.",
    "lang.name.vi": "Vietnamese",
    "lang.name.en": "English",
    "job.stages": "Stages",
    "job.waiting": "Waiting for a worker to pick it up…",
    "job.step": "Step {i}/{n}",
    "job.stopped_at": "Stopped at: {stage}",
    "job.eta": "about {eta} left",
    "job.progress": "Progress",
    "job.prompt": "Prompt",
    "job.english_prompt": "Prompt the model got (English)",
    "job.language": "Detected language",
    "job.pose": "Pose report",
    "job.pose_chart": "Pose by body part over {frames} sampled frames (point at or tap a stretch for its frames)",
    "job.pose_chart.detected": "detected",
    "job.pose_chart.repaired": "repaired",
    "job.pose_chart.missing": "missing (not drawn)",
    "job.pose_chart.run": "{part}: {status}, frames {frames}",
    "job.input_kind": "Reference video",
    "job.input_kind.video": "a filmed person",
    "job.input_kind.skeleton": "a skeleton video",
    "job.skeleton": "Skeleton",
    "job.result": "Result",
    "job.preview": "Live preview (rough colours, sharpens step by step)",
    "job.side_by_side": "Side by side",
    "job.downloads": "Downloads",
    "job.dl.result.mp4": "MP4 video",
    "job.dl.result.gif": "GIF animation",
    "job.dl.skeleton.mp4": "Skeleton (MP4)",
    "job.dl.side_by_side.mp4": "Side by side (MP4)",
    "job.dl.keypoints.json": "Keypoints (JSON)",
    "job.cancel": "Cancel job",
    "job.cancel_requested": "Cancel requested; the job stops at its next step…",
    "job.canceled": "This job was canceled.",
    "job.failed": "The video could not be made.",
    "job.what_to_do": "What to do",
    "job.details": "Details",
    "job.params": "Parameters",
    "job.model": "Model",
    "job.photo": "Character photo",
    "job.photo_alt": "The character photo this job used",
    "job.created": "Created",
    "job.finished": "Finished",
    "job.demo": "Made with demo (random) weights: the picture is noise.",
    "job.warnings": "Notes",
    "job.not_found": "Job {id} was not found. It may have been deleted.",
    "job.new": "Make another video",
    "job.delete": "Delete",
    "job.open": "Open",
    "job.download": "Download",
    "job.seed": "seed",
    "job.device": "device",

    "fix.no_person": "Use a video with one clearly visible, well-lit person, or choose \"A ready-made skeleton video\".",
    "fix.invalid_input": "Correct the value named above and submit again.",
    "fix.unsupported_media": "Use a valid MP4 (H.264), MOV or WEBM file.",
    "fix.out_of_memory": "Lower the size, frames or steps and try again.",
    "fix.worker_lost": "The worker stopped mid-job (possibly out of memory). Try again with smaller settings.",
    "fix.models_missing": "The operator needs to download the models: python manage.py download.",
    "fix.device_error": "The operator needs to check the worker's GPU/device.",
    "fix.unavailable": "The server is busy or out of disk space; try again in a few minutes.",
    "fix.default": "Try again; if it repeats, tell the operator the error code.",

    "history.title": "History",
    "history.empty": "No jobs yet.",
    "history.filter": "Filter by status",
    "history.all": "All",
    "history.page": "Page {page} of {pages} · {total} jobs",
    "history.prev": "← Previous",
    "history.next": "Next →",
    "history.refresh": "Refresh",
    "history.confirm_delete": "Delete the job \"{prompt}\" and all its files? This cannot be undone.",
    "history.deleted": "Job deleted.",
    "history.no_thumb": "No preview yet",
    "history.no_result": "No result",
    "history.thumb_alt": "Preview: {prompt}",

    "time.s": "{n} s",
    "time.m": "{m} min {s} s",
    "time.h": "{h} h {m} min",
    "loading": "Loading…",
    "close": "Close"
  }
};

// Texts the server writes (pose report, warnings, errors), by their code in backend/text2video/messages.py: the
// server sends English text + code + params; in Vietnamese the interface renders the code with these templates
// (English: the server's own text). A test keeps these codes and the server's in step.
const SERVER_VI = {
  "pose.no_frames": "Dáng người: không có khung hình nào.",
  "pose.demo": "Mô hình dáng người DEMO (mẫu cố định, chưa huấn luyện): các khung xương này không có ý nghĩa.",
  "pose.stats": "{frames} khung hình, {fps} khung/giây; thấy người trong {seen}/{frames} khung; {detected} % điểm khớp phát hiện được, {repaired} % được sửa, {missing} % bị thiếu (không vẽ).",
  "pose.absent": "Không thấy người ở {frames} (khoảng ngắn được lấp từ các khung bên cạnh, khoảng dài để trống).",
  "pose.part_repaired": "{part}: được sửa ở {frames}.",
  "pose.part_missing": "{part}: bị thiếu ở {frames}.",
  "pose.runtime": "Ước lượng dáng bằng ONNX Runtime trên {provider} (cấu hình {preset}).",
  "pose.frame": "khung {list}",
  "pose.frames": "các khung {list}",
  "pose.frames_more": "các khung {list} và {more} đoạn khác",
  "pose.ranges": "{list}",
  "pose.ranges_more": "{list} và {more} đoạn khác",
  "pose.part.head": "Đầu",
  "pose.part.left_arm": "Tay trái",
  "pose.part.right_arm": "Tay phải",
  "pose.part.left_leg": "Chân trái",
  "pose.part.right_leg": "Chân phải",
  "pose.part.left_hand": "Bàn tay trái",
  "pose.part.right_hand": "Bàn tay phải",
  "pose.part.face": "Khuôn mặt",
  "pose.demo_random": "Mô hình dáng người DEMO (ngẫu nhiên): khung xương không theo người trong video.",
  "demo.weights": "Trọng số DEMO (ngẫu nhiên, rất nhỏ): kết quả chỉ là nhiễu, không phải video thật. Chạy `python manage.py download` để có mô hình thật.",
  "prompt.demo_translation": "Mô hình dịch DEMO (ngẫu nhiên, rất nhỏ): câu tiếng Anh vô nghĩa. Chạy `python manage.py download --only prompt` để có envit5-translation thật.",
  "prompt.empty_translation": "Bản dịch trống; câu gốc được dùng nguyên văn.",
  "prompt.clip_truncated": "{field} dài {tokens} token CLIP, quá {max} token mô hình đọc được: các từ sau bị bỏ qua: {words}",
  "preset.cpu_slow": "Chạy mô hình thật trên CPU mất vài phút cho mỗi bước khử nhiễu (hàng giờ cho một video 50 bước); hãy dùng GPU CUDA, hoặc giảm --steps và --frames để thử.",
  "preset.low_memory": "Cấu hình {preset} ước tính cần ~{need} GB nhưng chỉ còn {free} GB trống: có thể hết bộ nhớ. Hãy giảm --frames, --width/--height, hoặc giải phóng GPU.",
  "compile.first_job": "Lần chạy đầu tiên đã biên dịch mô hình video cho máy này trong {seconds} giây (--compile); các lần sau với cùng số khung và kích thước dùng lại bản đã biên dịch.",
  "compile.eager_fallback": "Không dùng được --compile ở đây, mô hình video chạy không biên dịch: {reason}",
  "video.gif_preview": "result.gif là bản xem trước, cứ {every} khung lấy 1 trong {frames} khung; result.mp4 có đủ mọi khung",
  "lora.distilled_defaults": "{lora} là LoRA chưng cất số bước ({kind}): công việc chạy với {values}, đúng như LoRA được làm, vì yêu cầu không đặt các giá trị này (đặt steps / guidance_scale để tự chọn).",
  "job.retrying": "lần chạy {attempt}: {reason}; đang thử lại",
  "job.recovered": "đã khôi phục: lần chạy lại đã thành công",
  "job.timeout": "Công việc chạy quá {seconds} giây nên đã bị dừng. Hãy giảm số khung hình hoặc số bước, hoặc tăng TEXT2VIDEO_JOB_TIMEOUT_S.",
  "job.out_of_memory": "GPU hết bộ nhớ. Hãy thử lại với ít khung hình hơn, kích thước nhỏ hơn, hoặc chạy worker với cấu hình bộ nhớ thấp hơn (--memory low). ({detail})",
  "job.internal_error": "{error}. Đây là lỗi của chương trình; nhật ký của worker có chi tiết.",
  "job.worker_lost": "{reason} sau {attempts} lần chạy. Nếu lặp lại, hãy dùng cấu hình bộ nhớ thấp hơn (--memory low), ít khung hình hơn hoặc kích thước nhỏ hơn.",
  "job.worker_lost_many": "{reason} sau {attempts} lần chạy. Nếu lặp lại, hãy dùng cấu hình bộ nhớ thấp hơn (--memory low), ít khung hình hơn hoặc kích thước nhỏ hơn.",
  "job.exit": "mất worker (mã thoát {code}, có thể do hết bộ nhớ)",
  "job.exit_signal": "mất worker (mã thoát {code} = {signal}, có thể do hết bộ nhớ)",
  "job.exit_unknown": "mất worker (không rõ mã thoát, có thể do hết bộ nhớ hoặc máy bị tắt)",
  "field.integer": "\"{field}\" phải là số nguyên, không phải {value}.",
  "field.boolean": "\"{field}\" phải là true hoặc false, không phải {value}.",
  "field.number": "\"{field}\" phải là một số, không phải {value}.",
  "field.finite": "\"{field}\" phải là một số hữu hạn, không phải {value}.",
  "field.text": "\"{field}\" phải là văn bản, không phải {value}.",
  "field.between": "\"{field}\" phải từ {min} đến {max}, không phải {value}.",
  "field.at_least": "\"{field}\" phải ít nhất là {min}, không phải {value}.",
  "field.at_most": "\"{field}\" phải nhiều nhất là {max}, không phải {value}.",
  "field.multiple": "\"{field}\" phải là bội số của {multiple}, không phải {value}.",
  "field.enum": "\"{field}\" phải là một trong: {choices}; không phải {value}.",
  "field.too_long": "\"{field}\" dài {value} ký tự, vượt giới hạn {max}.",
  "hint.number": "Hãy nhập một số, ví dụ {example}.",
  "hint.boolean": "Hãy chọn true hoặc false.",
  "hint.text": "Hãy gửi dạng văn bản.",
  "hint.between": "Hãy chọn giá trị từ {min} đến {max}.",
  "hint.at_least": "Hãy chọn giá trị từ {min} trở lên.",
  "hint.at_most": "Hãy chọn giá trị không quá {max}.",
  "hint.multiple": "Hãy dùng {lower} hoặc {upper}.",
  "hint.enum": "Hãy dùng một trong: {choices}.",
  "hint.shorter": "Hãy dùng giá trị ngắn hơn.",
  "hint.frames_over_limit": "Hãy tăng bước lấy khung (ít khung hình hơn cho mỗi giây video gốc: fps đầu ra = fps gốc / bước) hoặc cắt ngắn video; người vận hành có thể tăng TEXT2VIDEO_MAX_OUTPUT_FRAMES (thiết lập max_output_frames).",
  "error.no_person_any": "Không tìm thấy người nào trong cả {frames} khung hình đã lấy mẫu (0-{last}, {start}-{end} giây).",
  "hint.no_person_any": "Hãy dùng video có một người nhìn rõ, hoặc một video khung xương có sẵn.",
  "error.no_person_few": "Chỉ thấy người trong {seen}/{frames} khung hình đã lấy mẫu; không thấy ở các khung {missing}.",
  "hint.no_person_few": "Hãy cắt video lấy đoạn có người trong khung hình, hoặc dùng một video khung xương có sẵn.",
  "error.too_few_frames_of": "Video chỉ cho {available} khung hình khi lấy mỗi {stride} khung (tổng cộng {total} khung); đã yêu cầu {frames}.",
  "hint.too_few_frames_of": "Hãy yêu cầu nhiều nhất {available} khung hình, giảm bước lấy khung, hoặc dùng video dài hơn.",
  "error.too_few_frames": "Video chỉ cho {available} khung hình khi lấy mỗi {stride} khung; đã yêu cầu {frames}.",
  "hint.too_few_frames": "Hãy yêu cầu ít khung hình hơn, giảm bước lấy khung, hoặc dùng video dài hơn.",
  "error.lora_other_family": "{file} là LoRA cho {fits}; {model} nhận LoRA {takes}.",
  "hint.lora_other_family": "Hãy bỏ {name}, chọn một LoRA làm cho {model}, hoặc dùng nó với {models}.",
  "error.lora_other_size": "{file} được làm cho {made_for} (các lớp rộng {width}); các lớp của {model} rộng {expected}.",
  "hint.lora_other_size": "Hãy dùng một LoRA huấn luyện trên {model}, hoặc bỏ {name}.",
  "video.empty": "Tệp '{name}' trống (0 byte).",
  "hint.attach_again": "Hãy kiểm tra tệp phát được trên máy của bạn, rồi đính kèm lại.",
  "video.not_video": "'{name}' không phải video: nội dung của tệp không phải định dạng video mà máy chủ đọc được.",
  "video.no_stream": "'{name}' không có luồng hình (chỉ có âm thanh, hoặc tệp bị cắt cụt).",
  "video.undecodable": "Không giải mã được '{name}': dữ liệu hình bị hỏng hoặc dùng codec mà máy chủ không có.",
  "video.no_frame": "'{name}' không có khung hình nào giải mã được.",
  "hint.video_file": "Hãy dùng tệp video: {types}.",
  "video.too_many_pixels": "Video có kích thước {width}x{height} ({pixels} điểm ảnh), vượt giới hạn {max} điểm ảnh.",
  "hint.too_many_pixels": "Hãy tải lên video nhỏ hơn (ví dụ 1080p), hoặc người vận hành tăng TEXT2VIDEO_MAX_VIDEO_PIXELS.",
  "video.too_fast": "Video có {fps} khung/giây, vượt giới hạn {max} khung/giây.",
  "hint.too_fast": "Hãy mã hóa lại với tốc độ khung hình thấp hơn, hoặc người vận hành tăng TEXT2VIDEO_MAX_VIDEO_FPS.",
  "video.too_long": "Video dài {seconds} giây, vượt giới hạn {max} giây.",
  "hint.too_long": "Hãy cắt ngắn video, hoặc người vận hành tăng TEXT2VIDEO_MAX_VIDEO_SECONDS.",
  "error.prompt_required": "Hãy nhập câu mô tả: mô tả nhân vật và khung cảnh, ví dụ \"Cô gái nhảy trên núi\".",
  "error.not_utf8": "\"{field}\" không phải văn bản UTF-8: có byte không phải UTF-8 (sẽ thành �).",
  "hint.utf8": "Hãy gửi \"{field}\" mã hóa UTF-8 (mã hóa của trình duyệt và của curl trên terminal UTF-8); mã hóa cũ như Windows-1258 hay Latin-1 gửi các byte khác.",
  "error.json_not_utf8": "Nội dung JSON không phải UTF-8 (byte {position} không hợp lệ trong UTF-8).",
  "error.json_invalid": "Nội dung không phải JSON hợp lệ: {reason} (dòng {line}, cột {column}).",
  "error.json_not_object": "Nội dung JSON không phải một đối tượng JSON (bắt đầu bằng {start}).",
  "hint.json_object": "Hãy gửi một đối tượng JSON mã hóa UTF-8, ví dụ {example}.",
  "url.refused": "\"{field}\" {url} bị từ chối: {reason}",
  "url.address_blocked": "địa chỉ {address} không được phép: {reason}",
  "url.resolves_blocked": "{host} trỏ tới {address}, địa chỉ không được phép: {reason}",
  "url.blocked.ipv4_mapped": "đây là địa chỉ IPv6 ánh xạ IPv4 (của {embedded})",
  "url.blocked.sixtofour": "đây là địa chỉ 6to4 (chứa {embedded})",
  "url.blocked.teredo": "đây là địa chỉ Teredo (chứa một địa chỉ IPv4)",
  "url.blocked.nat64": "đây là địa chỉ NAT64 (chứa một địa chỉ IPv4)",
  "url.blocked.zone_id": "địa chỉ mang zone id IPv6",
  "url.blocked.unspecified": "đây là địa chỉ không xác định (0.0.0.0 hoặc ::)",
  "url.blocked.loopback": "đây là địa chỉ loopback (chính máy chủ này)",
  "url.blocked.link_local": "đây là địa chỉ link-local (ví dụ dịch vụ metadata đám mây 169.254.169.254)",
  "url.blocked.multicast": "đây là địa chỉ multicast",
  "url.blocked.cgnat": "đây là địa chỉ NAT cấp nhà mạng (100.64.0.0/10)",
  "url.blocked.reserved": "đây là địa chỉ dành riêng",
  "url.blocked.private": "đây là địa chỉ mạng nội bộ",
  "url.blocked.site_local": "đây là địa chỉ site-local",
  "url.blocked.not_global": "đây không phải địa chỉ internet công khai",
  "hint.url_video": "Hãy nhập URL http(s) công khai của tệp video.",
  "hint.url_callback": "Hãy nhập URL http(s) công khai của máy nhận webhook (nhận một yêu cầu POST khi công việc xong).",
  "hint.url_public": "Hãy nhập một URL http(s) công khai.",
  "error.invalid_input": "Giá trị {value} của ô \"{field}\" không hợp lệ.",
  "error.invalid_field": "Ô \"{field}\" không hợp lệ.",
  "error.invalid_request": "Yêu cầu có giá trị không hợp lệ.",
  "error.bad_request": "Máy chủ không đọc được yêu cầu.",
  "error.unsupported_media": "Không đọc được video: đây không phải tệp video được hỗ trợ.",
  "error.payload_too_large": "Tệp tải lên lớn hơn giới hạn của máy chủ.",
  "error.no_person": "Không tìm thấy người nào trong video.",
  "error.not_found": "Không tìm thấy.",
  "error.conflict": "Công việc đang ở trạng thái không cho phép thao tác này.",
  "error.unauthorized": "Cần khóa API, hoặc khóa đã nhập không hợp lệ.",
  "error.forbidden": "Không được phép.",
  "error.method_not_allowed": "Không hỗ trợ thao tác này ở địa chỉ này.",
  "error.rate_limited": "Quá nhiều công việc cùng lúc; hãy đợi một công việc xong.",
  "error.unavailable": "Máy chủ tạm thời không nhận việc (hàng đợi không kết nối được hoặc hết dung lượng đĩa); thử lại sau.",
  "error.models_missing": "Máy chủ thiếu mô hình; người vận hành cần tải về.",
  "error.device_error": "Thiết bị (GPU) của worker không dùng được.",
  "error.out_of_memory": "Worker hết bộ nhớ.",
  "error.canceled": "Đã hủy theo yêu cầu.",
  "error.worker_lost": "Worker bị dừng giữa chừng khi đang làm công việc.",
  "error.error": "Máy chủ gặp lỗi không lường trước; lỗi đã được ghi lại."
};

// A field named in a server message is shown with its label on the form.
const FIELD_LABELS = {
  prompt: "create.prompt", negative_prompt: "create.negative", video: "create.video", video_url: "create.video_url",
  steps: "create.steps", guidance_scale: "create.guidance", seed: "create.seed", frames: "create.frames",
  stride: "create.stride", width: "create.width", height: "create.height", scheduler: "create.scheduler",
  input_type: "create.input_type", lang: "create.lang", reference_image: "create.photo",
  reference_image_url: "create.photo", conditioning_scale: "create.conditioning", model: "create.model",
};

// The models' descriptions (GET /api/v1/models, the families' declarations, in English) in Vietnamese, by model
// name; a model this page does not know shows the server's text.
const MODEL_VI = {
  "follow-your-pose": "Câu mô tả + video dáng người → video 512×512, mỗi cửa sổ 24 khung hình (video dài chạy theo các cửa sổ gối nhau). Mô hình đầu tiên của dịch vụ; chất lượng vừa phải.",
  "wan-vace-1.3b": "Câu mô tả + video dáng người + ảnh nhân vật (không bắt buộc) → video 832×480, 16 khung/giây, 81 khung hình mỗi đoạn. Tốt hơn nhiều so với Follow-Your-Pose; giữ diện mạo của người trong ảnh. Khoảng 18 GB bộ nhớ GPU khi để mọi thứ trên GPU (ước tính), ít hơn khi chuyển bớt sang CPU.",
  "wan-vace-14b": "Bản Wan VACE lớn: chất lượng tốt nhất, làm cho 1280×720. Cần GPU lớn (khoảng 56 GB khi để mọi thứ trên GPU, khoảng 15 GB khi chuyển từng nhóm lớp sang CPU, ước tính) và mỗi bước lâu hơn nhiều.",
};

/** A model's description in the interface language (English: the server's own text). */
export function modelDescription(name, serverText) {
  return (getLanguage() === "vi" && MODEL_VI[name]) || serverText || "";
}

export const LANGUAGES = { vi: "Tiếng Việt", en: "English" };
const STORAGE_KEY = "t2v.lang";
let current = null;

/** The interface language: the stored choice, else the browser's (vi* -> vi), else English. */
export function detectLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && STRINGS[saved]) return saved;
  } catch (_) { /* storage blocked: fall through to the browser's language */ }
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const tag of wanted) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (STRINGS[base]) return base;
  }
  return "en";
}

export function getLanguage() {
  if (!current) current = detectLanguage();
  return current;
}

export function setLanguage(lang) {
  if (!STRINGS[lang]) throw new Error(`unknown interface language ${lang}`);
  current = lang;
  try { localStorage.setItem(STORAGE_KEY, lang); } catch (_) { /* not persisted; still switched */ }
  document.documentElement.lang = lang;
}

/** The string for key in the current language, with {name} placeholders filled from vars. */
export function t(key, vars = {}) {
  const table = STRINGS[getLanguage()];
  let text = table[key] ?? STRINGS.en[key];
  if (text === undefined) {
    console.warn("missing string", key);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/**
 * A text the server wrote, in the interface language. `items` are its code + params ({code, params} or, for a part
 * without a code, {code: null, text}); English, or any code this page does not know, shows the server's `text`.
 */
export function localize(text, items) {
  if (getLanguage() === "en" || !Array.isArray(items) || !items.length) return text ?? "";
  const parts = items.map(renderItem);
  return parts.includes(null) ? (text ?? "") : parts.join(" ");
}

function renderItem(item) {
  if (item && !item.code && typeof item.text === "string") return item.text;
  const template = item && SERVER_VI[item.code];
  if (template === undefined) return null;
  const params = item.params || {};
  let missing = false;
  const text = template.replace(/\{(\w+)\}/g, (m, name) => {
    const value = params[name];
    if (value === undefined || value === null) { missing = true; return m; }
    if (typeof value === "object") {
      const nested = renderItem(value);
      if (nested === null) missing = true;
      return nested ?? m;
    }
    if (name === "field" && FIELD_LABELS[value]) return t(FIELD_LABELS[value]);
    return String(value);
  });
  return missing ? null : text;
}

export function has(key) {
  return key in STRINGS[getLanguage()] || key in STRINGS.en;
}

/** Fill every [data-i18n] (text), [data-i18n-placeholder], [data-i18n-aria-label], [data-i18n-title], [data-i18n-alt] under root. */
export function translateDom(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-alt]")) el.alt = t(el.dataset.i18nAlt);
}

export const _strings = STRINGS; // for the tests: both languages must have the same keys
