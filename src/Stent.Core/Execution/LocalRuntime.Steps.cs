// Running one step attempt in the in-process runtime, through the shared StepRunner.
using Stent.Workflows;

namespace Stent.Execution;

public sealed partial class LocalRuntime
{
    private async Task<StepDone> RunStepAsync(StepWork work, IDurableFunction fn, CancellationToken ct)
    {
        var a = await _runner.RunAsync(fn, work.Execution.Id, work.Step.Position, work.Step.Input, work.Attempt, ct).ConfigureAwait(false);
        return new StepDone(work, a.Output, a.BusinessError, a.Failure);
    }
}
